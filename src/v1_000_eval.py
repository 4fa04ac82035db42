"""Generation metrics for structured extraction, base model, adapter and an off-the-shelf NER side by side.

Run:
    python src/v1_000_eval.py                                   # newest run vs base (and ginza), on validation.jsonl
    python src/v1_000_eval.py --eval_file tmp_docker/dataset/realistic_test.jsonl
    python src/v1_000_eval.py --adapter src/output/<run> --models adapter --max_samples 50
    python src/v1_000_eval.py --models ginza                    # the baseline alone: no language model is loaded

For each chat record the last assistant turn is the reference; the model answers the turns before it (greedy,
on the CPU unless --device says otherwise). The `ginza` column is the baseline a user would pick instead of
fine-tuning: GiNZA's spaCy NER pipeline (pip install ja-ginza==5.3.0 ginza==5.3.0) run on the last user turn,
its Person entities as the answer (ftkit/ginza_baseline.py). It is in the default set when ja-ginza is installed.
Writes into the adapter's run folder (for `--models ginza` with no run yet: <output_dir>/baseline_ginza):
metrics.json (one entry per evaluation file, each with a column per model), metrics_<file>.md (the table) and
predictions_<file>.jsonl (the reference and each column's answer). Metric definitions:
ftkit/extraction_metrics.py and the README.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

from ftkit import DEFAULT_DATASET_DIR, DEFAULT_OUTPUT_ROOT
from ftkit.base_model import ensure_base_model
from ftkit.cli import run_cli
from ftkit.data import load_samples
from ftkit.errors import KitError
from ftkit.extraction_metrics import extraction_metrics
from ftkit.files import update_json, write_jsonl, write_text_atomic
from ftkit.generation import generate_answers, prompts_and_references
from ftkit.ginza_baseline import INSTALL_HINT, ginza_answers, ginza_missing
from ftkit.model_card import refresh_model_card
from ftkit.modeling import load_for_inference, pick_device
from ftkit.runs import adapter_base_model, finished_runs, resolve_adapter
from ftkit.text_tables import comma_list, markdown_table


@dataclass
class Settings:
    eval_file: str = field(default=str(DEFAULT_DATASET_DIR / "validation.jsonl"), metadata={
        "help": "chat JSONL whose last assistant turns are the references"})
    adapter: str = field(default="", metadata={
        "help": "adapter (run) folder; default: the newest finished run under --output_dir"})
    output_dir: str = field(default=str(DEFAULT_OUTPUT_ROOT), metadata={"help": "where runs are looked up"})
    model: str = field(default="", metadata={
        "help": "base model directory, .gguf file or Hub id; default: the one the adapter was trained on"})
    models: str = field(default="", metadata={
        "help": "columns to evaluate, comma-separated, among base, adapter and ginza (GiNZA's off-the-shelf spaCy NER, "
                "no fine-tuning and no language model loaded; needs pip install ja-ginza==5.3.0 ginza==5.3.0); "
                "default: base,adapter, plus ginza when ja-ginza is installed"})
    max_samples: int = field(default=0, metadata={"help": "evaluate the first N records only (0: all)"})
    batch_size: int = field(default=16, metadata={"help": "prompts generated together"})
    max_new_tokens: int = field(default=192, metadata={"help": "answer length limit in tokens"})
    device: str = field(default="cpu", metadata={"help": "cpu (default) | cuda | auto"})


def load_eval_set(path: str, max_samples: int):
    """(conversation before the last assistant turn, reference answer) for each chat record."""
    conversations, references = prompts_and_references(load_samples(path))
    if not references:
        raise KitError(f"{path}: no chat records to evaluate")
    if max_samples > 0:
        conversations, references = conversations[:max_samples], references[:max_samples]
    return conversations, references


def evaluate(settings: Settings, which: str, adapter_dir, conversations, references, device):
    if which == "ginza":
        answers = ginza_answers([last_user_text(messages) for messages in conversations])
        return extraction_metrics(answers, references), answers
    model, tokenizer = load_for_inference(settings.model, adapter_dir if which == "adapter" else None, device)
    answers = generate_answers(model, tokenizer, conversations, settings.max_new_tokens, settings.batch_size, device,
                               desc=which)
    return extraction_metrics(answers, references), answers


def last_user_text(messages: list) -> str:
    """The text the baseline reads: the last user turn (the record's text; the system prompt is the model's)."""
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def selected_models(models: str) -> list[str]:
    """The columns asked for; the default is base,adapter and ginza when ja-ginza is installed (one line if not)."""
    if not models.strip():
        missing = ginza_missing()
        if missing:
            print(f"[eval] ginza column skipped: ja-ginza is not installed ({INSTALL_HINT})")
            return ["base", "adapter"]
        return ["base", "adapter", "ginza"]
    which = list(dict.fromkeys(comma_list(models)))
    if not which or not set(which) <= {"base", "adapter", "ginza"}:
        raise KitError(f"--models is '{models}', expected a comma-separated choice of base, adapter and ginza")
    if "ginza" in which and ginza_missing():
        raise KitError(f"--models {models} asks for the ginza column, but ja-ginza is not installed; "
                       f"install it with: {INSTALL_HINT}")
    return which


def output_folder(settings: Settings, language_models: list):
    """The run folder the results go into; with the ginza column alone and no run yet, <output_dir>/baseline_ginza."""
    if language_models or settings.adapter or finished_runs(settings.output_dir):
        return resolve_adapter(settings.adapter, settings.output_dir)
    folder = Path(settings.output_dir) / "baseline_ginza"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def metrics_table(columns: dict, title: str) -> str:
    """One row per metric, one column per model, under a heading."""
    names = list(columns)
    rows = [[key, *(format_value(columns[name].get(key)) for name in names)] for key in next(iter(columns.values()))]
    return f"### {title}\n\n" + markdown_table(["metric", *names], rows) + "\n"


def format_value(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main(settings: Settings):
    # 1. What to evaluate: the columns, the adapter (run) folder, the base model and the evaluation set.
    which_models = selected_models(settings.models)
    language_models = [which for which in which_models if which != "ginza"]
    device = pick_device(settings.device) if language_models else None  # the ginza column alone loads no LM
    adapter_dir = output_folder(settings, language_models)
    if language_models:
        settings = replace(settings, model=str(ensure_base_model(settings.model or adapter_base_model(adapter_dir))))
    conversations, references = load_eval_set(settings.eval_file, settings.max_samples)
    print(f"[eval] {len(references)} samples from {settings.eval_file}; "
          f"{'adapter' if language_models else 'results in'} {adapter_dir}")

    # 2. Each column's answers and metrics.
    columns, predictions = {}, {}
    for which in which_models:
        columns[which], predictions[which] = evaluate(settings, which, adapter_dir, conversations, references, device)

    # 3. The table, beside the adapter: metrics.json (one entry per evaluation file), the table, the answers.
    stem = Path(settings.eval_file).stem
    table = metrics_table(columns, f"{stem} ({len(references)} samples)")
    print(table)
    update_json(adapter_dir / "metrics.json", stem, {"eval_file": settings.eval_file, **columns})
    refresh_model_card(adapter_dir)  # the run's README.md lists every evaluation; a no-op without an adapter
    write_text_atomic(adapter_dir / f"metrics_{stem}.md", table)
    rows = [{"reference": reference, **{which: predictions[which][i] for which in which_models}}
            for i, reference in enumerate(references)]
    write_jsonl(adapter_dir / f"predictions_{stem}.jsonl", rows)
    print(f"[eval] wrote metrics.json, metrics_{stem}.md and predictions_{stem}.jsonl in {adapter_dir}")
    return columns


if __name__ == "__main__":
    run_cli(main, Settings)
