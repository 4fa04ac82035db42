"""Validation while training: loss (and generation metrics) every N steps, early stopping, best adapter kept.

Which adapter is best, and whether training still improves, is decided by one metric (`--metric_for_best`):
the validation loss by default, or a generation metric of the extraction task such as `name_set_f1`. Whether
greater is better is inferred from the name (`greater_is_better_for`) unless set.

The best adapter is a copy of the LoRA weights in memory (a few MB), so `--keep best` still writes no
checkpoint to disk.
"""

import math

import torch
from tqdm.auto import tqdm

from .errors import KitError
from .trainer import evaluate_loss

# The generation metrics of ftkit.extraction_metrics that can select an adapter (counts such as `samples` cannot).
GENERATION_METRICS = ("json_parse_rate", "schema_ok_rate", "person_presence_f1", "name_set_f1", "address_set_f1",
                      "all_fields_exact_match_rate", "name_exact_match_rate", "address_exact_match_rate",
                      "fp_rate_on_negative", "exact_match_rate_on_non_json")
SELECTION_METRICS = ("validation_loss", *GENERATION_METRICS)
# Names that mean "lower is better": losses, perplexities, error and false-positive rates.
LOWER_IS_BETTER = ("loss", "perplexity", "error", "fp_rate", "false_positive")


def greater_is_better_for(metric: str, override: bool | None = None) -> bool:
    """Whether a larger `metric` is better: `override` when given, else inferred from its name (loss-like names,
    error and false-positive rates: lower is better; rates, F1 and the rest: higher)."""
    if override is not None:
        return bool(override)
    return not any(mark in metric for mark in LOWER_IS_BETTER)


def check_metric(metric: str, option: str = "metric_for_best", known=SELECTION_METRICS) -> str:
    """`metric` when it is one the kit measures, else a one-line KitError naming the choices."""
    if metric not in known:
        losses = ", ".join(name for name in known if name not in GENERATION_METRICS)
        raise KitError(f"--{option} is '{metric}', expected {losses} or a generation metric: "
                       f"{', '.join(name for name in known if name in GENERATION_METRICS)}")
    return metric


def is_generation_metric(metric: str) -> bool:
    return metric in GENERATION_METRICS


class PeriodicValidation:
    """Called by the trainer after each optimizer step; returns True when training should stop early.

    `metric` (a key of the evaluation points: "validation_loss" or one of `generation_metrics`' results) decides
    which evaluation is best and whether one improved; `greater_is_better` (None: inferred from the name) says in
    which direction. An evaluation where the metric is missing or not a number (no JSON reference, say) does not
    count as an improvement.
    """

    def __init__(self, model, micro_batches, pad_token_id, device, every: int, patience: int = 0,
                 keep_best: bool = False, generation_metrics=None, log=tqdm.write, metric: str = "validation_loss",
                 greater_is_better: bool | None = None):
        self.model, self.micro_batches, self.pad_token_id, self.device = model, micro_batches, pad_token_id, device
        self.every, self.patience, self.keep_best = every, patience, keep_best
        self.generation_metrics = generation_metrics  # None, or a function returning a dict of metrics
        self.log = log
        self.metric = metric
        self.greater_is_better = greater_is_better_for(metric, greater_is_better)
        self.points: list[dict] = []  # {"step", "validation_loss", generation metrics...} per evaluation
        self.best_value = -math.inf if self.greater_is_better else math.inf
        self.best_step, self.evaluations_without_improvement = None, 0
        self.best_weights = None

    @property
    def best_loss(self) -> float:
        """The best value of the metric (the validation loss unless --metric_for_best says otherwise); the name
        of earlier versions."""
        return self.best_value

    def improves(self, value) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return False
        return value > self.best_value if self.greater_is_better else value < self.best_value

    def __call__(self, step: int) -> bool:
        if self.every <= 0 or step % self.every:
            return False
        point = {"step": step,
                 "validation_loss": evaluate_loss(self.model, self.micro_batches, self.pad_token_id, self.device)}
        if self.generation_metrics:
            point.update(self.generation_metrics())
        self.points.append(point)
        if self.improves(point.get(self.metric)):
            self.best_value, self.best_step, self.evaluations_without_improvement = point[self.metric], step, 0
            if self.keep_best:
                self.best_weights = {name: p.detach().clone() for name, p in self.model.named_parameters()
                                     if p.requires_grad}
        else:
            self.evaluations_without_improvement += 1
        by = "" if self.metric == "validation_loss" else f"{self.metric} "
        best = (f"best {by}{self.best_value:.4f} at step {self.best_step}" if self.best_step is not None
                else f"no {by or 'loss '}value yet")
        shown = ", ".join(f"{k} {v:.3f}" for k, v in point.items() if isinstance(v, float) and k != "validation_loss")
        self.log(f"[validation] step {step}: loss {point['validation_loss']:.4f} ({best})"
                 f"{', ' + shown if shown else ''}")
        if self.patience and self.evaluations_without_improvement >= self.patience:
            self.log(f"[validation] no improvement of {self.metric} in {self.patience} evaluations: "
                     f"stopping early at step {step}")
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
        return {key: getattr(self, key)
                for key in ("points", "best_value", "best_step", "evaluations_without_improvement", "best_weights")}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, "best_value" if key == "best_loss" else key, value)  # checkpoints of earlier versions
