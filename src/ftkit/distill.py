"""Learning without Forgetting: keep the fine-tuned model's next-token distribution close to the base model's.

loss = task cross-entropy + lambda * T^2 * KL(base || student), both per label token (Li & Hoiem, 2016;
Hinton et al., 2015 for the T^2 factor, which keeps the gradient scale independent of the temperature).

The teacher costs no second copy of the model: it is the same PEFT model with its adapter switched off
(`disable_adapter()`), run without gradient. Only its final hidden states are kept; the output head is applied
to teacher and student a chunk of label tokens at a time (inside a checkpoint when there are several chunks),
so two 262,144-wide logit tensors exist only for one chunk at a time, in the forward and the backward pass.

Why not TRL's GKDTrainer: it is built for a separate teacher model and full-sequence logits, which would cost
a second model and the whole batch's logits twice over.
"""

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .loss import decoder_and_head, label_hidden_states


def chunk_task_and_kl_sums(student_hidden, teacher_hidden, weight, targets, temperature, softcap):
    """Sums over one chunk of tokens of the cross-entropy and of KL(teacher || student) at `temperature`."""
    student_logits = F.linear(student_hidden, weight).float()
    with torch.no_grad():
        teacher_logits = F.linear(teacher_hidden, weight).float()
    if softcap:
        student_logits = torch.tanh(student_logits / softcap) * softcap
        teacher_logits = torch.tanh(teacher_logits / softcap) * softcap
    task = F.cross_entropy(student_logits, targets, reduction="sum")
    if temperature != 1.0:
        student_logits, teacher_logits = student_logits / temperature, teacher_logits / temperature
    kl = F.kl_div(F.log_softmax(student_logits, dim=-1), F.log_softmax(teacher_logits, dim=-1), log_target=True,
                  reduction="sum")
    return task, kl


def lwf_loss_sum(model, batch, distill_lambda: float, temperature: float = 1.0, chunk_size: int = 256):
    """(loss sum, label tokens, {"task": sum, "distill_kl": sum}) over the labelled positions of `batch`.

    The loss sum is task + lambda * T^2 * KL, each summed over label tokens; the trainer divides by the number
    of label tokens of the optimizer step, so both terms are averaged per token.
    """
    decoder, head, config = decoder_and_head(model)
    with torch.no_grad(), model.disable_adapter():
        teacher_hidden, _ = label_hidden_states(decoder, batch)
    student_hidden, targets = label_hidden_states(decoder, batch)
    softcap = getattr(config, "final_logit_softcapping", None)
    task_sum = student_hidden.new_zeros((), dtype=torch.float32)
    kl_sum = student_hidden.new_zeros((), dtype=torch.float32)
    several_chunks = targets.numel() > chunk_size
    for start in range(0, targets.numel(), chunk_size):
        chunk = slice(start, start + chunk_size)
        args = (student_hidden[chunk], teacher_hidden[chunk], head.weight, targets[chunk], temperature, softcap)
        # As in loss.py: one chunk keeps its logits for the backward pass (recomputing them would cost two more
        # head products); with several, each chunk is recomputed so that only one chunk's logits live at a time.
        if torch.is_grad_enabled() and several_chunks:
            task, kl = checkpoint(chunk_task_and_kl_sums, *args, use_reentrant=False)
        else:
            task, kl = chunk_task_and_kl_sums(*args)
        task_sum, kl_sum = task_sum + task, kl_sum + kl
    total = task_sum + distill_lambda * temperature**2 * kl_sum
    return total, targets.numel(), {"task_loss": task_sum.detach(), "distill_kl": kl_sum.detach()}
