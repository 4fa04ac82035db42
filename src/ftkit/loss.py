"""Causal language-model loss computed on the label tokens only, in chunks.

Why not `model(**batch).loss`: the stock forward computes logits for every position, prompt included. With
Gemma-3's 262,144-token vocabulary those logits dominate both time and memory (a 512-token row is 512 MiB of
fp32 logits, more than the whole 270M model in bf16). Here the decoder runs once, and the output head is applied
only to the positions that carry a label, in chunks whose logits are recomputed in the backward pass instead
of being stored. The result equals the stock loss (tests check it); only the cost differs.

On a GPU with Liger installed (`pip install liger-kernel`), Liger's fused linear + cross-entropy Triton kernel
does the same in one pass (its logits never leave on-chip memory chunks); the pure-PyTorch chunks are the
fallback everywhere else, the CPU included.
"""

import functools

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .formatting import IGNORE_INDEX


def decoder_and_head(model):
    """The transformer body and output head of a (PEFT-wrapped) causal LM."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    return causal_lm.get_decoder(), causal_lm.get_output_embeddings(), causal_lm.config


def label_hidden_states(decoder, batch):
    """Final hidden states at the positions that predict a label, and those labels (position t predicts t+1)."""
    hidden = decoder(
        input_ids=batch["input_ids"],
        attention_mask=batch.get("attention_mask"),
        position_ids=batch.get("position_ids"),
        use_cache=False,
    ).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE_INDEX
    return hidden[:, :-1][keep], targets[keep]


def chunk_cross_entropy_sum(hidden, weight, targets, softcap):
    logits = F.linear(hidden, weight).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return F.cross_entropy(logits, targets, reduction="sum")


def label_token_loss_sum(model, batch, chunk_size: int = 1024):
    """Sum of token losses over the labelled positions of `batch`, and how many positions that is."""
    decoder, head, config = decoder_and_head(model)
    hidden, targets = label_hidden_states(decoder, batch)
    softcap = getattr(config, "final_logit_softcapping", None)
    fused = liger_fused_cross_entropy() if hidden.is_cuda else None
    if fused is not None:
        return fused(hidden, head.weight, targets, reduction="sum", softcap=softcap), targets.numel()
    total = hidden.new_zeros((), dtype=torch.float32)
    several_chunks = targets.numel() > chunk_size
    for start in range(0, targets.numel(), chunk_size):
        args = (hidden[start : start + chunk_size], head.weight, targets[start : start + chunk_size], softcap)
        # A single chunk's logits are kept for the backward pass (recomputing them would cost a third more
        # head time); with several chunks each one is recomputed so only one chunk of logits is alive at once.
        if torch.is_grad_enabled() and several_chunks:
            total = total + checkpoint(chunk_cross_entropy_sum, *args, use_reentrant=False)
        else:
            total = total + chunk_cross_entropy_sum(*args)
    return total, targets.numel()


@functools.cache  # looked up once: a failed import is not cached by Python and would be retried every step
def liger_fused_cross_entropy():
    """Liger's fused linear cross-entropy function, or None when liger-kernel (GPU only) is not installed."""
    try:
        from liger_kernel.transformers.functional import liger_fused_linear_cross_entropy
    except ImportError:
        return None
    return liger_fused_linear_cross_entropy
