"""Merge a LoRA adapter into its base model and save one standalone Hugging Face model directory (no peft needed).

Run:
    python src/v1_000_merge.py                                   # newest finished run under src/output/
    python src/v1_000_merge.py --adapter src/output/<run> --dtype fp32 --output merged/my-model
    python src/v1_000_merge.py --push_to_hub my-name/my-model    # also upload it (needs network and hf auth login)

Writes `<adapter folder>-merged/` (or --output; an existing folder is never overwritten, a default name gets a
`-2`, `-3`, ... suffix instead): `model.safetensors`, `config.json`, `generation_config.json`, the tokenizer with
the adapter's chat template (`tokenizer_config.json`, `chat_template.jinja`), `merged_from.json` (base model
and adapter) and `README.md`, its model card (base model, data, settings, losses, licence, with Hugging Face
metadata). It is written under a hidden `.incomplete-…` name and renamed when complete. Load it with
`AutoModelForCausalLM.from_pretrained(folder)` and `AutoTokenizer.from_pretrained(folder)`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from ftkit.base_model import is_hub_id
from ftkit.cli import run_cli
from ftkit.merging import AdapterSettings, merge_adapter, new_output_path, open_adapter, push_to_hub, save_merged
from ftkit.model_card import merged_card_text
from ftkit.runs import check_output_root, portable_path
from ftkit.settings import check_choice

DTYPES = ("bf16", "fp32")


@dataclass
class Settings(AdapterSettings):  # adapter, output_dir, model (ftkit/merging.py), then:
    output: str = field(default="", metadata={
        "help": "folder to write; default: <adapter folder>-merged (never overwritten)"})
    dtype: str = field(default="bf16", metadata={
        "help": "dtype of the saved weights: bf16 (half the size, the training dtype of Gemma) or fp32"})
    push_to_hub: str = field(default="", metadata={
        "help": "also upload the model files of the folder (weights, configs, tokenizer; not the run's records) to "
                "this Hub model repository (user/name), created private when missing"})
    push_to_existing: bool = field(default=False, metadata={
        "help": "allow --push_to_hub to write into a repository that already exists (otherwise it asks at a terminal, "
                "and stops elsewhere)"})
    record_absolute_paths: bool = field(default=False, metadata={
        "help": "record absolute paths in merged_from.json (default: relative to the repository, ~/... under the home "
                "folder)"})


def main(settings: Settings) -> Path:
    import torch

    check_choice(settings.dtype, DTYPES, "dtype")
    adapter_dir, base_model, base_model_dir = open_adapter(settings.adapter, settings.output_dir, settings.model)
    out_dir = new_output_path(settings.output, Path(f"{adapter_dir}-merged"), "merged models")
    check_output_root(out_dir.parent, "--output")  # a file, no permission, a read-only disk: said before the merge
    print(f"[merge] base {base_model_dir} + adapter {adapter_dir} -> {out_dir} ({settings.dtype})")

    dtype = torch.bfloat16 if settings.dtype == "bf16" else torch.float32
    model, tokenizer = merge_adapter(base_model_dir, adapter_dir, dtype)
    absolute = settings.record_absolute_paths
    recorded_base = base_model if is_hub_id(base_model) else portable_path(Path(base_model_dir).resolve(), absolute)
    save_merged(model, tokenizer, out_dir, provenance={"base_model": recorded_base,
                                                       "adapter": portable_path(Path(adapter_dir).resolve(), absolute),
                                                       "dtype": settings.dtype},
                readme=merged_card_text(adapter_dir, out_dir.name, settings.dtype))
    print(f"[merge] saved {out_dir}")
    if settings.push_to_hub:
        url = push_to_hub(out_dir, settings.push_to_hub, into_existing=settings.push_to_existing)
        print(f"[merge] uploaded to {url}")
    return out_dir


if __name__ == "__main__":
    run_cli(main, Settings)
