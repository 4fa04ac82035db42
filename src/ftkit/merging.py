"""Merging a LoRA adapter into its base model: one standalone Hugging Face directory that needs no peft.

`merge_adapter` folds the low-rank update into the base weights with peft's own `merge_and_unload` (in fp32,
then cast, so that bf16 rounding happens once); `save_merged` writes the result complete or not at all, the way
run folders are written; `push_to_hub` uploads it.
"""

import os
import shutil
import tempfile
from pathlib import Path

from .errors import KitError, first_line

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


def free_path(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, ... whichever does not exist yet (file names keep their suffix)."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}" if path.suffix else f"{path.name}-{number}")
    return candidate


def save_merged(model, tokenizer, out_dir: str | Path, provenance: dict | None = None) -> Path:
    """Write model (safetensors), config, generation config and tokenizer (chat template included) to `out_dir`.

    Written into a hidden temporary folder beside it and renamed at the end, so `out_dir` is either complete or
    absent; an existing `out_dir` is never touched.
    """
    from .runs import write_json

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
        if out_dir.exists():  # appeared while we were writing
            raise KitError(f"{out_dir} appeared while the merged model was written; nothing was overwritten")
        os.rename(scratch, out_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out_dir


def push_to_hub(folder: str | Path, repo_id: str, private: bool = True) -> str:
    """Upload a saved folder (a merged model, or an adapter) to a Hub model repository (created when missing);
    returns the repository URL.

    Network and login problems become one KitError line: the folder stays on disk, ready for a retry.
    """
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                          commit_message="Upload from ftkit")
    except Exception as error:
        if not is_hub_error(error):
            raise
        raise KitError(f"could not upload {folder} to the Hub repository '{repo_id}' ({type(error).__name__}: "
                       f"{first_line(error)}); the folder is saved, retry when online and logged in (hf auth login)") from None
    return str(url)


def is_hub_error(error: BaseException) -> bool:
    """Whether an exception comes from the network or the Hub (connection, HTTP status, offline mode, login, bad
    repository name) rather than from a bug: the Hub client raises types of its own and of its HTTP library."""
    if isinstance(error, (OSError, ValueError)):
        return True
    packages = {cls.__module__.split(".")[0] for cls in type(error).__mro__}
    return bool(packages & {"huggingface_hub", "httpx", "httpx2", "requests", "urllib3"})
