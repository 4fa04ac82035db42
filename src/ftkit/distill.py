"""Learning without Forgetting: keep the fine-tuned model's next-token distribution close to the base model's.

loss = task cross-entropy + lambda * T^2 * KL(base || student), both per label token (Li & Hoiem, 2016;
Hinton et al., 2015 for the T^2 factor, which keeps the gradient scale independent of the temperature).

The teacher costs no second copy of the model: it is the same PEFT model with its adapter switched off
(`disable_adapter()`), run without gradient. Only its final hidden states are kept; the output head is applied
to teacher and student a chunk of positions at a time, with the gradient computed in the same pass
(`loss.head_loss_sums`), so the 262,144-wide logits exist only for one chunk at a time and are never recomputed.

Why not TRL's GKDTrainer: it is built for a separate teacher model and full-sequence logits, which would cost
a second model and the whole batch's logits twice over.
"""

import torch

from .formatting import IGNORE_INDEX
from .loss import decoder_and_head, head_loss


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
    keep = is_label | on_kl  # the positions with a cross-entropy, a KL, or both
    total, task_sum, kl_sum = head_loss(
        student_all[keep], head.weight, targets_all[keep], getattr(config, "final_logit_softcapping", None),
        chunk_size, teacher_hidden=teacher_all[keep], kl_weight=on_kl[keep].float(),
        kl_scale=distill_lambda * temperature**2, temperature=temperature)
    return total, int(is_label.sum()), {"task_loss": task_sum.detach(), "distill_kl": kl_sum.detach()}


def all_hidden_states(decoder, batch):
    """Final hidden states at every predicting position (all but the last of each row)."""
    return decoder(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"),
                   position_ids=batch.get("position_ids"), use_cache=False).last_hidden_state[:, :-1]
