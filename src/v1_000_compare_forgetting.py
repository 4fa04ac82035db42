"""Plain LoRA against LwF + rehearsal: task metrics and forgetting, side by side.

Run:
    python src/v1_000_compare_forgetting.py          # trains both (same data, seed, defaults), then compares
    python src/v1_000_compare_forgetting.py --plain_run src/output/<lora run> --lwf_run src/output/<lwf run>

Forgetting is the increase of the model's perplexity on held-out general conversations
(tmp_docker/dataset/general_heldout.jsonl, never trained on) relative to the base model:
    forgetting = perplexity(fine-tuned) / perplexity(base) - 1
measured twice: on the conversations in the chat format (answers scored) and on the same conversations as
plain text (every token scored), which the base model, a plain language model, was trained for.
Task metrics are the extraction metrics of v1_000_eval.py on the validation file (greedy, CPU by default).
Writes comparison.json, comparison.md and tradeoff.png (forgetting against name F1) into a new folder
src/output/<date-time>_forgetting/.
"""

from dataclasses import dataclass, field, replace

import v1_000_lora_finetune as lora_recipe
import v1_000_lora_lwf_finetune as lwf_recipe
from ftkit import DEFAULT_DATASET_DIR, DEFAULT_MODEL_DIR, DEFAULT_OUTPUT_ROOT
from ftkit.base_model import ensure_base_model
from ftkit.cli import run_cli
from ftkit.data import load_samples
from ftkit.extraction_metrics import extraction_metrics
from ftkit.files import write_json, write_text_atomic
from ftkit.forgetting import as_plain_text, perplexity
from ftkit.generation import generate_answers, prompts_and_references
from ftkit.modeling import load_for_inference, pick_device
from ftkit.reporting import save_tradeoff
from ftkit.runs import RunFolder, resolve_adapter
from ftkit.text_tables import markdown_table


@dataclass
class Settings:
    plain_run: str = field(default="", metadata={
        "help": "plain LoRA run folder; '' trains one with v1_000_lora_finetune.py defaults"})
    lwf_run: str = field(default="", metadata={
        "help": "LwF + rehearsal run folder; '' trains one with v1_000_lora_lwf_finetune.py defaults"})
    model: str = field(default=str(DEFAULT_MODEL_DIR), metadata={"help": "base model directory"})
    train_file: str = field(default=str(DEFAULT_DATASET_DIR / "train.jsonl"), metadata={
        "help": "training data of both runs (when they are trained here)"})
    validation_file: str = field(default=str(DEFAULT_DATASET_DIR / "validation.jsonl"), metadata={
        "help": "task metrics are measured here"})
    rehearsal_file: str = field(default=str(DEFAULT_DATASET_DIR / "general_rehearsal.jsonl"), metadata={
        "help": "general data mixed into the LwF run"})
    general_file: str = field(default=str(DEFAULT_DATASET_DIR / "general_heldout.jsonl"), metadata={
        "help": "held-out general conversations for perplexity"})
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps of each trained run (-1: one epoch)"})
    seed: int = field(default=42, metadata={"help": "seed of both trained runs"})
    eval_samples: int = field(default=0, metadata={"help": "validation samples to generate answers for (0: all)"})
    output_dir: str = field(default=str(DEFAULT_OUTPUT_ROOT), metadata={
        "help": "runs and the comparison folder go here"})
    device: str = field(default="cpu", metadata={"help": "device of the evaluation: cpu (default) | cuda | auto"})


def train_runs(settings: Settings):
    """Both runs on the same data and seed, each with its script's defaults otherwise."""
    common = dict(model=settings.model, train_file=settings.train_file, validation_file=settings.validation_file,
                  output_dir=settings.output_dir, max_steps=settings.max_steps, seed=settings.seed)
    plain = settings.plain_run or lora_recipe.main(lora_recipe.Settings(**common))
    lwf = settings.lwf_run or lwf_recipe.main(lwf_recipe.Settings(**common, rehearsal_file=settings.rehearsal_file))
    return resolve_adapter(str(plain), settings.output_dir), resolve_adapter(str(lwf), settings.output_dir)


def measure(settings, adapter_dir, general_samples, conversations, references, device) -> dict:
    model, tokenizer = load_for_inference(settings.model, adapter_dir, device)
    result = {"general_perplexity": perplexity(model, tokenizer, general_samples, device),
              "general_text_perplexity": perplexity(model, tokenizer, as_plain_text(general_samples), device)}
    if adapter_dir is not None:
        answers = generate_answers(model, tokenizer, conversations, 192, 16, device, desc=adapter_dir.name)
        result.update(extraction_metrics(answers, references))
    return result


def main(settings: Settings):
    # 1. The two runs (trained here unless given) and the data they are measured on.
    settings = replace(settings, model=str(ensure_base_model(settings.model)))
    device = pick_device(settings.device)
    plain_dir, lwf_dir = train_runs(settings)
    general_samples = load_samples(settings.general_file)
    conversations, references = prompts_and_references(load_samples(settings.validation_file))
    if settings.eval_samples > 0:
        conversations, references = conversations[: settings.eval_samples], references[: settings.eval_samples]

    # 2. Base, plain LoRA and LwF side by side: perplexity on general text (forgetting) and the task's metrics.
    columns = {name: measure(settings, adapter, general_samples, conversations, references, device)
               for name, adapter in (("base", None), ("plain LoRA", plain_dir), ("LwF + rehearsal", lwf_dir))}
    for column in columns.values():
        column["forgetting"] = column["general_perplexity"] / columns["base"]["general_perplexity"] - 1
        column["text_forgetting"] = column["general_text_perplexity"] / columns["base"]["general_text_perplexity"] - 1
    ratio = forgetting_ratio(columns, "forgetting")
    text_ratio = forgetting_ratio(columns, "text_forgetting")

    # 3. The table and the trade-off picture, in a new folder that appears complete.
    table = comparison_table(columns, ratio, text_ratio, plain_dir, lwf_dir, len(references), settings)
    print(table)
    folder = RunFolder(settings.output_dir, "forgetting")
    try:
        write_json(folder.path / "comparison.json", {"runs": {"plain": str(plain_dir), "lwf": str(lwf_dir)},
                                                     "columns": columns, "forgetting_ratio_lwf_over_plain": ratio,
                                                     "text_forgetting_ratio_lwf_over_plain": text_ratio})
        write_text_atomic(folder.path / "comparison.md", table)
        save_tradeoff([(name, column["text_forgetting"], column["name_set_f1"]) for name, column in columns.items()
                       if "name_set_f1" in column], folder.path / "tradeoff.png",
                      title="plain LoRA against LwF + rehearsal")
        comparison_dir = folder.finish()
    except BaseException:
        folder.discard()
        raise
    print(f"[done] comparison written to {comparison_dir}")
    return columns, ratio, text_ratio


def forgetting_ratio(columns: dict, key: str) -> float:
    """Forgetting of LwF + rehearsal over that of plain LoRA (nan when plain LoRA did not forget)."""
    plain = columns["plain LoRA"][key]
    return columns["LwF + rehearsal"][key] / plain if plain > 0 else float("nan")


def comparison_table(columns, ratio, text_ratio, plain_dir, lwf_dir, samples, settings) -> str:
    keys = ["general_perplexity", "forgetting", "general_text_perplexity", "text_forgetting", "json_parse_rate",
            "name_set_f1", "address_set_f1", "all_fields_exact_match_rate", "fp_rate_on_negative"]
    names = list(columns)
    rows = [[key, *(f"{columns[n][key]:.3f}" if isinstance(columns[n].get(key), float) else "n/a" for n in names)]
            for key in keys]
    lines = [f"Plain LoRA ({plain_dir.name}) against LwF + rehearsal ({lwf_dir.name}).",
             f"Perplexity on {settings.general_file} (held out); task metrics on {samples} samples of "
             f"{settings.validation_file}.", "", markdown_table(["measure", *names], rows)]
    lines += ["", "general_perplexity: the held-out conversations in the chat format, answers scored; "
              "general_text_perplexity: the same conversations as plain text, every token scored.",
              f"Forgetting of LwF + rehearsal relative to plain LoRA: {ratio:.2f}x (chat), "
              f"{text_ratio:.2f}x (plain text)"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    run_cli(main, Settings)
