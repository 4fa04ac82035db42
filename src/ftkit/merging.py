"""Merging a LoRA adapter into its base model: one standalone Hugging Face directory that needs no peft.

`AdapterSettings`, `open_adapter` and `new_output_path` are the opening the merge, GGUF export and export check
scripts share: which adapter, which base model, which new file or folder. `merge_adapter` folds the low-rank
update into the base weights with peft's own `merge_and_unload` (in fp32, then cast, so that bf16 rounding
happens once);
`save_merged` writes the result complete or not at all, the way run folders are written; `push_to_hub` uploads it.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import DEFAULT_OUTPUT_ROOT
from .errors import KitError, first_line
from .files import free_name, write_json

MERGED_INFO_FILE = "merged_from.json"


def merge_adapter(base_model_dir: str | Path, adapter_dir: str | Path, dtype=None):
    """(merged transformers model without peft, tokenizer with the adapter's chat template), on the CPU.

    The merge is done in fp32 and the result cast to `dtype` (default fp32), so the sum W + BA is rounded once.
    """
    import torch

    from .modeling import load_for_inference

    model, tokenizer = load_for_inference(base_model_dir, adapter_dir, device="cpu", dtype=torch.float32)
    merged = model.merge_and_unload()
    merged.to(dtype or torch.float32)
    merged.config.dtype = dtype or torch.float32
    merged.eval()
    return merged, tokenizer


@dataclass
class AdapterSettings:
    """The first settings of a script that works on a trained adapter (merge, GGUF export, its check): a script's
    own Settings adds its fields to these (`class Settings(AdapterSettings)`), and `open_adapter` reads them."""
    adapter: str = field(default="", metadata={
        "help": "adapter (run) folder; default: the newest finished run under --output_dir"})
    output_dir: str = field(default=str(DEFAULT_OUTPUT_ROOT), metadata={"help": "where runs are looked up"})
    model: str = field(default="", metadata={
        "help": "base model directory; default: the one the adapter was trained on (named in its adapter_config.json)"})


def open_adapter(adapter: str | None, output_dir: str | Path, model: str = "") -> tuple[Path, str, Path]:
    """(adapter folder, base model as named, base model directory) for a script that works on a trained adapter.

    The adapter is the folder given or the newest finished run under `output_dir`, checked; the base model is
    `model`, else the one the adapter was trained on, made ready locally (a Hub id is downloaded once).
    """
    from .base_model import ensure_base_model
    from .runs import adapter_base_model, resolve_adapter

    adapter_dir = resolve_adapter(adapter, output_dir)
    base_model = model or adapter_base_model(adapter_dir)
    return adapter_dir, base_model, ensure_base_model(base_model)


def new_output_path(output: str, default: Path, what: str, beside=None) -> Path:
    """The file or folder a script writes: `output`, else the first free one of `default`, `default-2`, ...;
    never one that exists. `beside(path)` lists the files written next to it, which must be free too; `what`
    names the kind in the message, such as "merged models"."""
    beside = beside or (lambda path: [])
    path = Path(output) if output else free_name(default, lambda candidate: any(
        p.exists() for p in [candidate, *beside(candidate)]))
    for taken in [path, *beside(path)]:
        if taken.exists():
            raise KitError(f"{taken} already exists; {what} are never overwritten (choose another --output)")
    return path


def free_path(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, ... whichever does not exist yet (file names keep their suffix)."""
    return free_name(path)


def save_merged(model, tokenizer, out_dir: str | Path, provenance: dict | None = None,
                readme: str | None = None) -> Path:
    """Write model (safetensors), config, generation config and tokenizer (chat template included) to `out_dir`,
    and `readme` (a model card, ftkit.model_card.merged_card_text) as its README.md.

    Written into a hidden temporary folder beside it and renamed at the end, so `out_dir` is either complete or
    absent; an existing `out_dir` is never touched.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise KitError(f"{out_dir} already exists; merged models are never overwritten (choose another --output)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".incomplete-{out_dir.name}-", dir=out_dir.parent))
    try:
        model.save_pretrained(scratch, safe_serialization=True)
        tokenizer.save_pretrained(scratch)
        if provenance:
            write_json(scratch / MERGED_INFO_FILE, provenance)
        if readme:
            (scratch / "README.md").write_text(readme, encoding="utf-8")
        if out_dir.exists():  # appeared while we were writing
            raise KitError(f"{out_dir} appeared while the merged model was written; nothing was overwritten")
        os.rename(scratch, out_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out_dir


# What an upload sends: the files that make up a model or an adapter, nothing else. A run folder also holds
# run.json, config.yml, metrics, predictions and pictures, which stay on this machine.
MODEL_FILE_PATTERNS = (
    "adapter_config.json", "adapter_model.safetensors", "config.json", "generation_config.json",
    "model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json", "tokenizer.json",
    "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "added_tokens.json", "chat_template.jinja",
    "chat_template.json", "vocab.json", "merges.txt", "README.md",
    "loss_curve.png",  # the model card shows it
)


def model_files(folder: str | Path) -> list[str]:
    """The names of the files in `folder` that an upload sends (MODEL_FILE_PATTERNS), sorted."""
    import fnmatch

    names = [p.name for p in Path(folder).iterdir() if p.is_file()]
    return sorted(name for name in names if any(fnmatch.fnmatchcase(name, pattern) for pattern in MODEL_FILE_PATTERNS))


def confirm(question: str) -> bool:
    """Ask a person at a terminal (y/N); False where nobody can answer (a pipe, a notebook, CI)."""
    import sys

    if not (sys.stdin and sys.stdin.isatty()):
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def push_to_hub(folder: str | Path, repo_id: str, private: bool = True, into_existing: bool = False, log=print) -> str:
    """Upload the model files of a saved folder (a merged model, or an adapter) to a Hub model repository
    (created when missing); returns the repository URL.

    Only the files named by MODEL_FILE_PATTERNS are sent. A repository that already exists is written into
    only with `into_existing=True` or when the person at the terminal says yes; otherwise nothing is sent and a
    KitError says how to allow it. Network and login problems become one KitError line: the folder stays on
    disk, ready for a retry.
    """
    from huggingface_hub import HfApi

    folder = Path(folder)
    files = model_files(folder)
    if not files:
        raise KitError(f"{folder}: no model files to upload ({', '.join(MODEL_FILE_PATTERNS[:3])}, ...)")
    left_out = sorted(p.name for p in folder.iterdir() if p.name not in files)
    api = HfApi()
    try:
        exists = api.repo_exists(repo_id, repo_type="model")
    except Exception as error:
        raise hub_error(error, folder, repo_id) from None
    question = f"The Hub repository '{repo_id}' already exists; upload {len(files)} files into it?"
    if exists and not into_existing and not confirm(question):
        raise KitError(f"the Hub repository '{repo_id}' already exists; nothing was uploaded. To add these files to "
                       "it, pass --push_to_existing (in the notebook: HUB_PUSH_TO_EXISTING = True), "
                       "or choose a new name")
    log(f"[hub] uploading {len(files)} files to '{repo_id}': {', '.join(files)}"
        + (f"; kept here: {', '.join(left_out)}" if left_out else ""))
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model", allow_patterns=files,
                          commit_message="Upload from ftkit")
    except Exception as error:
        raise hub_error(error, folder, repo_id) from None
    return str(url)


def hub_error(error: BaseException, folder: Path, repo_id: str) -> BaseException:
    """A network or Hub problem as one KitError line; any other exception (a bug) unchanged."""
    if not is_hub_error(error):
        return error
    return KitError(f"could not upload {folder} to the Hub repository '{repo_id}' ({type(error).__name__}: "
                    f"{first_line(error)}); the folder is saved, retry when online and logged in (hf auth login)")


def is_hub_error(error: BaseException) -> bool:
    """Whether an exception comes from the network or the Hub (connection, HTTP status, offline mode, login, bad
    repository name) rather than from a bug: the Hub client raises types of its own and of its HTTP library."""
    if isinstance(error, (OSError, ValueError)):
        return True
    packages = {cls.__module__.split(".")[0] for cls in type(error).__mro__}
    return bool(packages & {"huggingface_hub", "httpx", "httpx2", "requests", "urllib3"})
