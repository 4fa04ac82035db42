"""How much a fine-tuned model forgot: its perplexity on held-out general text against the base model's.

    forgetting = perplexity(fine-tuned) / perplexity(base) - 1

on conversations the run never trained on (tmp_docker/dataset/general_heldout.jsonl). "Plain text" turns the
conversations into plain text (turns on their own lines, no chat template, every token scored), which is what
the base model, a plain language model, was trained for; the chat-format perplexity (answers scored) says
less, since the base model never saw the chat format.
"""

import math

from .data import Sample
from .formatting import encode_all, make_token_micro_batches
from .trainer import evaluate_loss


def perplexity(model, tokenizer, samples, device) -> float:
    """exp(mean loss per label token) over `samples` (chat samples: the answers; text samples: every token)."""
    encoded, _ = encode_all(samples, tokenizer, 1024, False, "truncate")
    micro_batches = make_token_micro_batches(encoded, 2048, True, 1024, seed=0)
    return math.exp(evaluate_loss(model, micro_batches, tokenizer.pad_token_id, device))


def as_plain_text(samples) -> list:
    """The same conversations as plain text (turns on their own lines, no chat template), all tokens scored."""
    return [Sample(s.where, "text", text="\n".join(m["content"] for m in s.messages)) for s in samples]


def text_forgetting(model, tokenizer, samples, device) -> dict:
    """Plain-text perplexity of the PEFT `model` with its adapter off (the base) and on, and the forgetting."""
    text = as_plain_text(samples)
    with model.disable_adapter():
        base = perplexity(model, tokenizer, text, device)
    tuned = perplexity(model, tokenizer, text, device)
    return {"base_text_perplexity": base, "text_perplexity": tuned, "text_forgetting": tuned / base - 1}
