"""Generating answers with the same prompt format as training: one streamed answer, or batches for evaluation."""

import torch
from tqdm.auto import tqdm

from .formatting import render_prompt, stop_token_ids


def chat_messages(user_text: str, system_prompt: str | None) -> list:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": user_text}]


def prompts_and_references(samples) -> tuple[list, list]:
    """For chat samples: the conversation before the last assistant turn, and that turn as the reference."""
    conversations, references = [], []
    for sample in samples:
        if sample.schema != "chat":
            continue
        last = max(i for i, m in enumerate(sample.messages) if m["role"] == "assistant")
        conversations.append(sample.messages[:last])
        references.append(sample.messages[last]["content"])
    return conversations, references


def sampling_kwargs(tokenizer, max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                    repetition_penalty: float = 1.0) -> dict:
    """Arguments for `model.generate`: greedy when temperature is 0, and stop at end-of-turn or EOS."""
    kwargs = dict(max_new_tokens=max_new_tokens, eos_token_id=stop_token_ids(tokenizer),
                  pad_token_id=tokenizer.pad_token_id, repetition_penalty=repetition_penalty)
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


@torch.no_grad()
def generate_answers(model, tokenizer, conversations: list, max_new_tokens: int = 160, batch_size: int = 8,
                     device: str = "cpu", desc: str = "generate") -> list[str]:
    """Greedy answers to each conversation (a list of messages ending with a user turn), batched.

    Prompts are sorted by length so that each batch pads little, and left-padded as decoder-only generation needs.
    """
    saved_padding_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    prompts = [render_prompt(tokenizer, messages) for messages in conversations]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers = [""] * len(prompts)
    kwargs = sampling_kwargs(tokenizer, max_new_tokens)
    progress = tqdm(total=len(prompts), desc=desc, unit="sample", dynamic_ncols=True)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        batch = tokenizer([prompts[i] for i in indices], return_tensors="pt", padding=True,
                          add_special_tokens=False).to(device)
        output = model.generate(**batch, **kwargs)
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        for index, tokens in zip(indices, new_tokens):
            answers[index] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
        progress.update(len(indices))
    progress.close()
    tokenizer.padding_side = saved_padding_side
    return answers
