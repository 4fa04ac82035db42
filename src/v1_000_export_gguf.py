"""Merge a LoRA adapter into its base model and write one GGUF file for llama.cpp, llama-cpp-python and Ollama.

Run:
    python src/v1_000_export_gguf.py                              # newest finished run, Q8_0
    python src/v1_000_export_gguf.py --type bf16                  # or f16: unquantized
    python src/v1_000_export_gguf.py --adapter src/output/<run> --output my-model.gguf
    ollama create my-model -f src/output/<run>-q8_0.Modelfile     # then: ollama run my-model "..."

Writes `<adapter folder>-<type>.gguf` (or --output; an existing file is never overwritten, a default name gets a
`-2`, `-3`, ... suffix instead), with the tokenizer and the adapter's chat template inside. It is written under a
hidden temporary name and appears only when complete. Supported: Gemma 3 (Gemma3ForCausalLM), Llama
(LlamaForCausalLM), Qwen2 (Qwen2ForCausalLM) and Qwen3 (Qwen3ForCausalLM, dense). Q8_0 keeps norms in fp32 and
stores every weight matrix in 8-bit blocks of 32 (about half of bf16). `python src/v1_000_check_gguf_export.py`
measures how close the file's outputs are to the merged model's.

Beside the file, with the same name: `<name>.Modelfile` for `ollama create NAME -f <name>.Modelfile` (FROM the
file; TEMPLATE: the adapter's chat format written as Ollama's Go template, checked to give the same prompts;
stop at its end-of-turn token; SYSTEM: the system prompt the run trained with, or --system_prompt; temperature
0) and `<name>.md`, the file's model card.
"""

from dataclasses import dataclass, field
from pathlib import Path

from ftkit.cli import run_cli
from ftkit.errors import KitError
from ftkit.files import write_text_atomic
from ftkit.gguf_export import GGUF_TYPES, modelfile_text, write_gguf
from ftkit.merging import AdapterSettings, merge_adapter, new_output_path, open_adapter
from ftkit.model_card import gguf_card_text, ollama_name, read_run, training_system_prompt
from ftkit.settings import check_choice

AUTO = "auto"


@dataclass
class Settings(AdapterSettings):  # adapter, output_dir, model (ftkit/merging.py), then:
    output: str = field(default="", metadata={
        "help": "GGUF file to write; default: <adapter folder>-<type>.gguf (never overwritten)"})
    type: str = field(default="q8_0", metadata={
        "help": "weight format: q8_0 (8-bit, default), bf16 or f16 (16-bit, unquantized)"})
    system_prompt: str = field(default=AUTO, metadata={
        "help": "SYSTEM of the Ollama Modelfile: auto (the system prompt every training sample of the run starts "
                "with, the bundled task's for a default run), '' for none, or the text"})


def main(settings: Settings) -> Path:
    check_choice(settings.type, GGUF_TYPES, "type")
    adapter_dir, _, base_model_dir = open_adapter(settings.adapter, settings.output_dir, settings.model)
    if settings.output and Path(settings.output).suffix != ".gguf":
        raise KitError(f"--output {Path(settings.output)}: the file name must end in .gguf")
    out_path = new_output_path(settings.output, Path(f"{adapter_dir}-{settings.type}.gguf"),
                               "GGUF files and the files beside them", beside=files_beside)
    beside = files_beside(out_path)
    print(f"[gguf] base {base_model_dir} + adapter {adapter_dir} -> {out_path} ({settings.type})")

    model, tokenizer = merge_adapter(base_model_dir, adapter_dir)  # fp32: each format rounds from the exact merge
    system = system_prompt_of(settings, adapter_dir)
    modelfile = modelfile_text(out_path.name, tokenizer, system)  # before the file: a prompt it cannot quote stops here
    write_gguf(model, tokenizer, out_path, settings.type, name=adapter_dir.name)
    print(f"[gguf] wrote {out_path} ({out_path.stat().st_size / 2**20:.0f} MiB); run it with: llama-cli -m {out_path}")

    modelfile_path, card_path = beside
    write_text_atomic(modelfile_path, modelfile.text)
    write_text_atomic(card_path, gguf_card_text(adapter_dir, out_path, settings.type, modelfile_path.name,
                                                modelfile.system))
    print(f"[gguf] wrote {modelfile_path.name} and {card_path.name} beside it; for Ollama: "
          f"ollama create {ollama_name(out_path.stem)} -f {modelfile_path}")
    if modelfile.family is None:
        print("[gguf] the adapter's chat template is none of Gemma's, ChatML or Llama 3's: the Modelfile has no "
              "TEMPLATE, so Ollama chooses one from the chat template in the file; "
              "check it with: ollama show --template NAME")
    elif modelfile.mismatches:
        print(f"[gguf] warning: for {len(modelfile.mismatches)} of 3 sample conversations the Modelfile's TEMPLATE "
              f"writes another prompt than the adapter's chat template ({modelfile.family} format with changes of "
              "its own); "
              f"check TEMPLATE in {modelfile_path.name} before ollama create")
    return out_path


def files_beside(gguf_path: Path) -> list[Path]:
    """The Modelfile and the model card written beside a GGUF file."""
    return [gguf_path.with_suffix(".Modelfile"), gguf_path.with_suffix(".md")]


def system_prompt_of(settings: Settings, adapter_dir: Path) -> str | None:
    """The Modelfile's SYSTEM: --system_prompt, or (auto) the one the run's training samples share."""
    if settings.system_prompt != AUTO:
        return settings.system_prompt or None
    return training_system_prompt(read_run(adapter_dir))


if __name__ == "__main__":
    run_cli(main, Settings)
