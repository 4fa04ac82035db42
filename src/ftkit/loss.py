"""Causal language-model loss computed on the label tokens only, in chunks.

Why not `model(**batch).loss`: the stock forward computes logits for every position, prompt included. With
Gemma-3's 262,144-token vocabulary those logits dominate both time and memory (a 512-token row is 512 MiB of
fp32 logits, more than the whole 270M model in bf16). Here the decoder runs once, and the output head is applied
only to the positions that carry a label, a chunk at a time, and the gradient is computed in the same pass
(`head_loss_sums`), so no chunk's logits are stored or recomputed for the backward pass. The result equals the
stock loss in value and gradient (tests check it); only the cost differs.

On a GPU with Liger installed (`pip install liger-kernel`), Liger's fused linear + cross-entropy Triton kernel
does the same in one pass (its logits never leave on-chip memory chunks); the pure-PyTorch chunks are the
fallback everywhere else, the CPU included.
"""

import functools

import torch
import torch.nn.functional as F

from .errors import KitError
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


def head_loss_sums(hidden, weight, targets, softcap, chunk_size, teacher_hidden=None, kl_weight=None, kl_scale=0.0,
                   temperature=1.0, with_gradient=False):
    """(cross-entropy sum, KL sum, gradient of task + kl_scale * KL with respect to `hidden` or None).

    The output head is applied a chunk of positions at a time, and with `with_gradient` the gradient is computed
    right there: with respect to the logits it has a closed form, softmax(student) - onehot(target) for the
    cross-entropy and kl_scale / T * (softmax_T(student) - softmax_T(teacher)) for the KL, times the softcap's
    derivative. So each chunk's 262,144-wide logits are used once and freed; nothing vocabulary-wide is kept or
    recomputed for a backward pass. Inputs: hidden (positions x hidden), weight (vocabulary x hidden, frozen),
    targets (IGNORE_INDEX where a position has no cross-entropy); for LwF's KL: teacher_hidden, kl_weight (1.0
    where the KL is taken), kl_scale (lambda * T^2) and the temperature T.
    """
    grad_hidden = torch.empty_like(hidden) if with_gradient else None
    task_sum = torch.zeros((), dtype=torch.float32, device=hidden.device)
    kl_sum = torch.zeros((), dtype=torch.float32, device=hidden.device)
    for start in range(0, hidden.shape[0], chunk_size):
        rows = slice(start, start + chunk_size)
        logits = capped_logits(hidden[rows], weight, softcap)
        log_probs = torch.log_softmax(logits, dim=-1)
        chunk_targets = targets[rows]
        has_target = chunk_targets != IGNORE_INDEX
        picked = log_probs.gather(1, chunk_targets.clamp(min=0).unsqueeze(1)).squeeze(1)
        task_sum += -(picked * has_target).sum()
        gradient = None
        if teacher_hidden is not None:
            teacher_log_probs = torch.log_softmax(capped_logits(teacher_hidden[rows], weight, softcap)
                                                  .div_(temperature), dim=-1)
            student_log_probs = log_probs if temperature == 1.0 else torch.log_softmax(logits / temperature, dim=-1)
            teacher_probs = teacher_log_probs.exp()
            chunk_kl = kl_weight[rows]
            kl_sum += ((teacher_probs * (teacher_log_probs - student_log_probs)).sum(-1) * chunk_kl).sum()
            del teacher_log_probs
            if with_gradient:
                scale = (kl_scale / temperature) * chunk_kl.unsqueeze(1)
                gradient = student_log_probs.exp().sub_(teacher_probs).mul_(scale)
            del teacher_probs, student_log_probs
        if with_gradient:
            ce_gradient = log_probs.exp_().mul_(has_target.unsqueeze(1))
            ce_gradient[has_target, chunk_targets[has_target]] -= 1
            gradient = ce_gradient if gradient is None else gradient.add_(ce_gradient)
            if softcap:  # logits = c * tanh(raw / c), so d logits / d raw = 1 - (logits / c)^2
                gradient.mul_(logits.div_(softcap).square_().neg_().add_(1))
            grad_hidden[rows] = gradient.to(weight.dtype) @ weight
        del logits, log_probs, gradient
    return task_sum, kl_sum, grad_hidden


class HeadLoss(torch.autograd.Function):
    """`head_loss_sums` as an autograd function: total = task + kl_scale * KL, whose backward pass only scales
    the gradient computed in the forward pass.

    Why its own function: through autograd, every chunk's logits (and their softcap and softmax) would be kept
    for the backward pass or recomputed there (about 3x the head's work for LwF). Liger's fused linear
    cross-entropy does the same on a GPU. The head's weight gets no gradient (the kit never trains it).
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, softcap, chunk_size, teacher_hidden=None, kl_weight=None, kl_scale=0.0,
                temperature=1.0):
        task_sum, kl_sum, grad_hidden = head_loss_sums(hidden, weight, targets, softcap, chunk_size, teacher_hidden,
                                                       kl_weight, kl_scale, temperature, with_gradient=True)
        ctx.save_for_backward(grad_hidden)
        ctx.mark_non_differentiable(task_sum, kl_sum)
        return task_sum + kl_scale * kl_sum, task_sum, kl_sum

    @staticmethod
    def backward(ctx, grad_total, _grad_task, _grad_kl):
        (grad_hidden,) = ctx.saved_tensors
        return grad_hidden * grad_total.to(grad_hidden.dtype), None, None, None, None, None, None, None, None


def head_loss(hidden, weight, targets, softcap, chunk_size, teacher_hidden=None, kl_weight=None, kl_scale=0.0,
              temperature=1.0):
    """(total, cross-entropy sum, KL sum): with a gradient for `hidden` while training, plain sums otherwise."""
    if torch.is_grad_enabled() and hidden.requires_grad:
        if weight.requires_grad:
            raise KitError("the output head is trainable here, but the kit's loss keeps it frozen; "
                           "leave lm_head out of --lora_target_modules")
        return HeadLoss.apply(hidden, weight, targets, softcap, chunk_size, teacher_hidden, kl_weight, kl_scale,
                              temperature)
    task_sum, kl_sum, _ = head_loss_sums(hidden, weight, targets, softcap, chunk_size, teacher_hidden, kl_weight,
                                         kl_scale, temperature)
    return task_sum + kl_scale * kl_sum, task_sum, kl_sum


def capped_logits(hidden, weight, softcap):
    """fp32 logits of the output head, soft-capped as the model does (Gemma: 30 * tanh(logits / 30))."""
    logits = F.linear(hidden, weight).float()
    if softcap:
        logits.div_(softcap).tanh_().mul_(softcap)
    return logits


def label_token_loss_sum(model, batch, chunk_size: int = 512):
    """Sum of token losses over the labelled positions of `batch`, and how many positions that is."""
    decoder, head, config = decoder_and_head(model)
    hidden, targets = label_hidden_states(decoder, batch)
    softcap = getattr(config, "final_logit_softcapping", None)
    fused = liger_fused_cross_entropy() if hidden.is_cuda else None
    if fused is not None:
        return fused(hidden, head.weight, targets, reduction="sum", softcap=softcap), targets.numel()
    total, _, _ = head_loss(hidden, head.weight, targets, softcap, chunk_size)
    return total, targets.numel()


@functools.cache  # looked up once: a failed import is not cached by Python and would be retried every step
def liger_fused_cross_entropy():
    """Liger's fused linear cross-entropy function, or None when liger-kernel (GPU only) is not installed."""
    try:
        from liger_kernel.transformers.functional import liger_fused_linear_cross_entropy
    except ImportError:
        return None
    return liger_fused_linear_cross_entropy
