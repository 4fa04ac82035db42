"""Validation while training: loss (and generation metrics) every N steps, early stopping, best adapter kept.

The best adapter is a copy of the LoRA weights in memory (a few MB), so `--keep best` still writes no
checkpoint to disk.
"""

import math

import torch
from tqdm.auto import tqdm

from .trainer import evaluate_loss


class PeriodicValidation:
    """Called by the trainer after each optimizer step; returns True when training should stop early."""

    def __init__(self, model, micro_batches, pad_token_id, device, every: int, patience: int = 0,
                 keep_best: bool = False, generation_metrics=None, log=tqdm.write):
        self.model, self.micro_batches, self.pad_token_id, self.device = model, micro_batches, pad_token_id, device
        self.every, self.patience, self.keep_best = every, patience, keep_best
        self.generation_metrics = generation_metrics  # None, or a function returning a dict of metrics
        self.log = log
        self.points: list[dict] = []  # {"step", "validation_loss", generation metrics...} per evaluation
        self.best_loss, self.best_step, self.evaluations_without_improvement = math.inf, None, 0
        self.best_weights = None

    def __call__(self, step: int) -> bool:
        if self.every <= 0 or step % self.every:
            return False
        point = {"step": step, "validation_loss": evaluate_loss(self.model, self.micro_batches, self.pad_token_id, self.device)}
        if self.generation_metrics:
            point.update(self.generation_metrics())
        self.points.append(point)
        if point["validation_loss"] < self.best_loss:
            self.best_loss, self.best_step, self.evaluations_without_improvement = point["validation_loss"], step, 0
            if self.keep_best:
                self.best_weights = {name: p.detach().clone() for name, p in self.model.named_parameters() if p.requires_grad}
        else:
            self.evaluations_without_improvement += 1
        shown = ", ".join(f"{k} {v:.3f}" for k, v in point.items() if isinstance(v, float) and k != "validation_loss")
        self.log(f"[validation] step {step}: loss {point['validation_loss']:.4f} (best {self.best_loss:.4f} at step "
                 f"{self.best_step}){', ' + shown if shown else ''}")
        if self.patience and self.evaluations_without_improvement >= self.patience:
            self.log(f"[validation] no improvement in {self.patience} evaluations: stopping early at step {step}")
            return True
        return False

    def restore_best(self) -> int | None:
        """Put the best weights seen back into the model; returns their step (None when nothing was kept)."""
        if self.best_weights is None:
            return None
        with torch.no_grad():
            for name, parameter in self.model.named_parameters():
                if name in self.best_weights:
                    parameter.copy_(self.best_weights[name])
        return self.best_step

    def state_dict(self) -> dict:
        return {key: getattr(self, key) for key in ("points", "best_loss", "best_step", "evaluations_without_improvement", "best_weights")}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
