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

from .formatting import IGNORE_INDEX
from .loss import decoder_and_head


# Where the KL acts (--distill_on): each keeps a different part of the base model's behaviour.
DISTILL_SCOPES = {
    "answers": "every label token (task answers and rehearsal answers): holds the answers near the base model's",
    "rehearsal": "the label tokens of rehearsal samples only: the task answers learn from the cross-entropy alone",
    "prompt": "the prompt tokens of task samples (the news text itself): keeps the base model's language "
              "modelling on the task's own text and leaves the answers free",
}


def distill_positions(batch, is_label, distill_on: str):
    """Boolean mask over the predicting positions (all but the last of each row) where the KL is taken.

    Position t predicts token t+1, so a position belongs to the kind of the token it predicts. Batches of
    unmarked samples (no "token_kind") count as task samples without padding information.
    """
    if distill_on == "answers":
        return is_label
    kind = batch.get("token_kind")
    if kind is None:  # unmarked samples: all of them task samples; padding is known only from an attention mask
        if distill_on == "rehearsal":
            return torch.zeros_like(is_label)
        real = batch["attention_mask"][:, 1:] != 0 if "attention_mask" in batch else torch.ones_like(is_label)
        return ~is_label & real
    predicted_kind = kind[:, 1:]
    if distill_on == "rehearsal":
        return is_label & (predicted_kind == 2)
    return ~is_label & (predicted_kind == 1)


def chunk_task_and_kl_sums(student_hidden, teacher_hidden, weight, targets, kl_weight, temperature, softcap):
    """Sums over one chunk of positions of the cross-entropy (where targets are not ignored) and of
    KL(teacher || student) at `temperature` (where kl_weight is 1)."""
    student_logits = F.linear(student_hidden, weight).float()
    with torch.no_grad():
        teacher_logits = F.linear(teacher_hidden, weight).float()
    if softcap:
        student_logits = torch.tanh(student_logits / softcap) * softcap
        teacher_logits = torch.tanh(teacher_logits / softcap) * softcap
    task = F.cross_entropy(student_logits, targets, reduction="sum", ignore_index=IGNORE_INDEX)
    if temperature != 1.0:
        student_logits, teacher_logits = student_logits / temperature, teacher_logits / temperature
    kl_per_position = F.kl_div(F.log_softmax(student_logits, dim=-1), F.log_softmax(teacher_logits, dim=-1),
                               log_target=True, reduction="none").sum(-1)
    return task, (kl_per_position * kl_weight).sum()


def lwf_loss_sum(model, batch, distill_lambda: float, temperature: float = 1.0, chunk_size: int = 256,
                 distill_on: str = "answers"):
    """(loss sum, label tokens, {"task_loss": sum, "distill_kl": sum}) over the positions of `batch`.

    The loss sum is task + lambda * T^2 * KL: the cross-entropy summed over label tokens, the KL summed over the
    positions of `distill_on` (see DISTILL_SCOPES). The trainer divides both by the number of label tokens of
    the optimizer step, so with "answers" both are averaged per label token; with "prompt", where there are more
    prompt than answer tokens, the same lambda weighs the KL more.
    """
    decoder, head, config = decoder_and_head(model)
    with torch.no_grad(), model.disable_adapter():
        teacher_all = all_hidden_states(decoder, batch)
    student_all = all_hidden_states(decoder, batch)
    targets_all = batch["labels"][:, 1:]
    is_label = targets_all != IGNORE_INDEX
    on_kl = distill_positions(batch, is_label, distill_on)
    keep = is_label | on_kl
    student_hidden, teacher_hidden = student_all[keep], teacher_all[keep]
    targets, kl_weight = targets_all[keep], on_kl[keep].float()
    softcap = getattr(config, "final_logit_softcapping", None)
    task_sum = student_hidden.new_zeros((), dtype=torch.float32)
    kl_sum = student_hidden.new_zeros((), dtype=torch.float32)
    several_chunks = targets.numel() > chunk_size
    for start in range(0, targets.numel(), chunk_size):
        chunk = slice(start, start + chunk_size)
        args = (student_hidden[chunk], teacher_hidden[chunk], head.weight, targets[chunk], kl_weight[chunk],
                temperature, softcap)
        # As in loss.py: one chunk keeps its logits for the backward pass (recomputing them would cost two more
        # head products); with several, each chunk is recomputed so that only one chunk's logits live at a time.
        if torch.is_grad_enabled() and several_chunks:
            task, kl = checkpoint(chunk_task_and_kl_sums, *args, use_reentrant=False)
        else:
            task, kl = chunk_task_and_kl_sums(*args)
        task_sum, kl_sum = task_sum + task, kl_sum + kl
    total = task_sum + distill_lambda * temperature**2 * kl_sum
    return total, int(is_label.sum()), {"task_loss": task_sum.detach(), "distill_kl": kl_sum.detach()}


def all_hidden_states(decoder, batch):
    """Final hidden states at every predicting position (all but the last of each row)."""
    return decoder(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"),
                   position_ids=batch.get("position_ids"), use_cache=False).last_hidden_state[:, :-1]
