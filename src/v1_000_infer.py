"""Answer one prompt on the CPU with the base model plus a LoRA adapter (default: the newest finished run).

Run:
    python src/v1_000_infer.py "東京都渋谷区の会社員、山田太郎さん(35)が逮捕された。"
    echo "本文..." | python src/v1_000_infer.py -            # prompt from stdin
    python src/v1_000_infer.py --no_adapter "..."            # the base model alone, for comparison
    python src/v1_000_infer.py --system_prompt "" "..."      # no system prompt (other tasks)

The prompt is formatted exactly as in training (the adapter folder's chat template, with the bundled task's
system prompt unless told otherwise) and the answer is streamed until end-of-turn. Always runs on the CPU,
even where a GPU exists, so that it works next to a training run holding the GPU.
"""

import sys
from dataclasses import dataclass, field

from ftkit import DEFAULT_OUTPUT_ROOT
from ftkit.base_model import ensure_base_model
from ftkit.cli import run_cli
from ftkit.errors import KitError
from ftkit.formatting import render_prompt
from ftkit.generation import chat_messages, sampling_kwargs
from ftkit.modeling import load_for_inference
from ftkit.runs import adapter_base_model, resolve_adapter
from ftkit.task import EXTRACTION_SYSTEM_PROMPT


@dataclass
class Settings:
    prompt: str = field(default="", metadata={"help": (
        "the user text (also accepted without the flag); '-' reads it from standard input")})
    adapter: str = field(default="", metadata={"help": (
        "adapter (run) folder; default: the newest finished run under --output_dir")})
    no_adapter: bool = field(default=False, metadata={"help": "use the base model alone"})
    output_dir: str = field(default=str(DEFAULT_OUTPUT_ROOT), metadata={"help": "where runs are looked up"})
    model: str = field(default="", metadata={"help": (
        "base model directory, .gguf file or Hub id; default: the one the adapter was trained on (Gemma-3 270M with "
        "--no_adapter)")})
    system_prompt: str = field(default=EXTRACTION_SYSTEM_PROMPT, metadata={"help": (
        "system prompt ('' for none); default: the bundled extraction task's")})
    max_new_tokens: int = field(default=256, metadata={"help": "answer length limit in tokens"})
    temperature: float = field(default=0.0, metadata={"help": "0 for greedy decoding (default), above 0 to sample"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling threshold (with --temperature > 0)"})
    repetition_penalty: float = field(default=1.0, metadata={"help": "above 1 discourages repeating tokens"})


def main(settings: Settings):
    import torch
    from transformers import TextStreamer

    text = sys.stdin.read() if settings.prompt == "-" else settings.prompt
    if not text.strip():
        raise KitError("the prompt is empty")
    # Not merging.open_adapter, which always resolves an adapter: --no_adapter must work where no run exists yet.
    adapter_dir = None if settings.no_adapter else resolve_adapter(settings.adapter, settings.output_dir)
    model_dir = ensure_base_model(settings.model or adapter_base_model(adapter_dir))
    model, tokenizer = load_for_inference(model_dir, adapter_dir, device="cpu")
    print(f"[infer] {'base model only' if adapter_dir is None else f'adapter {adapter_dir}'} (CPU)", file=sys.stderr)

    prompt = render_prompt(tokenizer, chat_messages(text.strip(), settings.system_prompt or None))
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    kwargs = sampling_kwargs(tokenizer, settings.max_new_tokens, settings.temperature, settings.top_p,
                             settings.repetition_penalty)
    with torch.no_grad():
        output = model.generate(**inputs, streamer=streamer, **kwargs)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()


if __name__ == "__main__":
    run_cli(main, Settings, positional="prompt")
