"""Merge a LoRA adapter into its base model and write one GGUF file for llama.cpp, llama-cpp-python and Ollama.

Run:
    python src/v1_000_export_gguf.py                              # newest finished run, Q8_0
    python src/v1_000_export_gguf.py --type bf16                  # or f16: unquantized
    python src/v1_000_export_gguf.py --adapter src/output/<run> --output my-model.gguf

Writes `<adapter folder>-<type>.gguf` (or --output; an existing file is never overwritten, a default name gets a
`-2`, `-3`, ... suffix instead), with the tokenizer and the adapter's chat template inside. It is written under a
hidden temporary name and appears only when complete. Supported: Gemma 3 (Gemma3ForCausalLM) and Llama
(LlamaForCausalLM). Q8_0 keeps norms in fp32 and stores every weight matrix in 8-bit blocks of 32 (about half of
bf16). `python src/v1_000_check_gguf_export.py` measures how close the file's outputs are to the merged model's.
"""

from dataclasses import dataclass, field
from pathlib import Path

from ftkit import DEFAULT_OUTPUT_ROOT
from ftkit.base_model import ensure_base_model
from ftkit.errors import KitError, exit_on_user_error
from ftkit.gguf_export import GGUF_TYPES, write_gguf
from ftkit.merging import free_path, merge_adapter
from ftkit.runs import adapter_base_model, resolve_adapter
from ftkit.settings import check_choice, parse_settings


@dataclass
class Settings:
    adapter: str = field(default="", metadata={"help": "adapter (run) folder; default: the newest finished run under --output_dir"})
    output_dir: str = field(default=str(DEFAULT_OUTPUT_ROOT), metadata={"help": "where runs are looked up"})
    model: str = field(default="", metadata={"help": "base model directory; default: the one the adapter was trained on (named in its adapter_config.json)"})
    output: str = field(default="", metadata={"help": "GGUF file to write; default: <adapter folder>-<type>.gguf (never overwritten)"})
    type: str = field(default="q8_0", metadata={"help": "weight format: q8_0 (8-bit, default), bf16 or f16 (16-bit, unquantized)"})


@exit_on_user_error
def main(settings: Settings) -> Path:
    check_choice(settings.type, GGUF_TYPES, "type")
    adapter_dir = resolve_adapter(settings.adapter, settings.output_dir)
    base_model_dir = ensure_base_model(settings.model or adapter_base_model(adapter_dir))
    out_path = Path(settings.output) if settings.output else free_path(Path(f"{adapter_dir}-{settings.type}.gguf"))
    if out_path.exists():
        raise KitError(f"{out_path} already exists; GGUF files are never overwritten (choose another --output)")
    print(f"[gguf] base {base_model_dir} + adapter {adapter_dir} -> {out_path} ({settings.type})")

    model, tokenizer = merge_adapter(base_model_dir, adapter_dir)  # fp32: each format rounds from the exact merge
    write_gguf(model, tokenizer, out_path, settings.type, name=adapter_dir.name)
    print(f"[gguf] wrote {out_path} ({out_path.stat().st_size / 2**20:.0f} MiB); run it with: llama-cli -m {out_path}")
    return out_path


if __name__ == "__main__":
    main(parse_settings(Settings))
