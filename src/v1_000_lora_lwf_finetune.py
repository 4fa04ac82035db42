"""LoRA fine-tuning that keeps what the base model knew: LwF distillation plus rehearsal.

Run:
    python src/v1_000_lora_lwf_finetune.py                       # defaults of v1_000_lora_finetune.py, plus LwF
    python src/v1_000_lora_lwf_finetune.py --distill_lambda 1 --rehearsal_ratio 0.3
    python src/v1_000_lora_lwf_finetune.py --help

Everything of v1_000_lora_finetune.py holds (flags, defaults, run folder, no checkpoints, --qlora, GPU or CPU);
this script shows only what differs:
  - the loss is task cross-entropy + lambda * T^2 * KL(base || fine-tuned), the KL by default on the prompt
    tokens of the task samples (the news text itself; --distill_on answers puts it on every answer token
    instead, --distill_on rehearsal on the rehearsal answers only), where the base model is the same model with
    its adapter switched off (no second copy; see ftkit/distill.py); why this default: docs/lwf.md;
  - general conversations (tmp_docker/dataset/general_rehearsal.jsonl, from chatterbot-corpus) are mixed into
    the training data so that they make up --rehearsal_ratio of it.
The progress bar, train_metrics.json and loss_curve.png show the task loss and the KL separately;
train_metrics.json also holds the plain-text forgetting on --forgetting_file.
Compare with plain LoRA (forgetting and task metrics): python src/v1_000_compare_forgetting.py
"""

import functools
from dataclasses import dataclass, field, replace

import v1_000_lora_finetune as lora_recipe
from ftkit import DEFAULT_DATASET_DIR
from ftkit.cli import run_cli
from ftkit.data import load_samples, mix_in
from ftkit.distill import DISTILL_SCOPES, lwf_loss_sum
from ftkit.errors import KitError
from ftkit.forgetting import text_forgetting
from ftkit.loss import label_token_loss_sum
from ftkit.runs import portable_path
from ftkit.settings import check_number


@dataclass
class Settings(lora_recipe.Settings):
    run_name: str = field(default="lora-lwf", metadata={"help": "suffix of the run folder name"})
    distill_lambda: float = field(default=0.5, metadata={"help": (
        "weight of the KL term that keeps the base model's next-token distribution (0: plain cross-entropy)")})
    distill_temperature: float = field(default=1.0, metadata={"help": (
        "softmax temperature T of the KL term (the term is scaled by T^2)")})
    rehearsal_file: str = field(default=str(DEFAULT_DATASET_DIR / "general_rehearsal.jsonl"), metadata={"help": (
        "general data mixed into training; '' for none")})
    rehearsal_ratio: float = field(default=0.2, metadata={"help": (
        "share of the training mix taken from --rehearsal_file")})
    distill_on: str = field(default="prompt", metadata={
        "help": "where the KL acts: " + "; ".join(f"{scope}: {meaning}" for scope, meaning in DISTILL_SCOPES.items())})
    forgetting_file: str = field(default=str(DEFAULT_DATASET_DIR / "general_heldout.jsonl"), metadata={"help": (
        "held-out general conversations: their plain-text perplexity with the adapter off and on goes into "
        "train_metrics.json as text_forgetting (about half a minute); '' to skip")})


def main(settings: Settings):
    if settings.distill_lambda < 0 or settings.distill_temperature <= 0:
        raise KitError("--distill_lambda must be >= 0 and --distill_temperature > 0")
    check_number(settings.distill_lambda, "distill_lambda", minimum=0, meaning="weight of the KL term")
    check_number(settings.distill_temperature, "distill_temperature", above=0)
    check_number(settings.rehearsal_ratio, "rehearsal_ratio", minimum=0, below=1, meaning="a share of the training mix")
    if settings.distill_on not in DISTILL_SCOPES:
        raise KitError(f"--distill_on {settings.distill_on!r}: expected one of {', '.join(DISTILL_SCOPES)}")
    if settings.lora_init.startswith(("pissa", "olora")):
        # The teacher is the model with its adapter switched off; these inits change the base weights themselves.
        raise KitError(f"--lora_init {settings.lora_init} changes the base weights, so the adapter-off teacher of LwF "
                       "would not be the base model; use the default init (or gaussian) here")
    wanted = settings.rehearsal_file and settings.rehearsal_ratio > 0
    rehearsal = load_samples(settings.rehearsal_file) if wanted else []
    general = load_samples(settings.forgetting_file) if settings.forgetting_file else []

    def add_rehearsal(task_samples):
        mixed = mix_in(task_samples, rehearsal, settings.rehearsal_ratio, settings.seed, source=settings.rehearsal_file)
        print(f"[data] rehearsal: {len(mixed) - len(task_samples)} general samples mixed into "
              f"{len(task_samples)} task samples")
        # Marked, so that --distill_on can tell the task's tokens from the rehearsal's.
        return ([replace(sample, kind="task") for sample in mixed[: len(task_samples)]]
                + [replace(sample, kind="rehearsal") for sample in mixed[len(task_samples):]])

    def forgetting(model, tokenizer, device):
        if not general:
            return {}
        measured = text_forgetting(model, tokenizer, general, device)
        print(f"[forgetting] plain-text perplexity on {len(general)} held-out conversations: base "
              f"{measured['base_text_perplexity']:.1f}, fine-tuned {measured['text_perplexity']:.1f} "
              f"(text_forgetting {measured['text_forgetting']:+.1%})")
        where = portable_path(settings.forgetting_file, absolute=settings.record_absolute_paths)
        return {"forgetting": {"file": where, "conversations": len(general), **measured}}

    if settings.distill_lambda == 0:  # no KL: the plain loss, without the teacher's forward pass
        loss_fn = label_token_loss_sum
    else:
        loss_fn = functools.partial(lwf_loss_sum, distill_lambda=settings.distill_lambda,
                                    temperature=settings.distill_temperature, distill_on=settings.distill_on)
    return lora_recipe.main(settings, mix_training_samples=add_rehearsal, loss_fn=loss_fn, extra_metrics=forgetting)


if __name__ == "__main__":
    run_cli(main, Settings)
