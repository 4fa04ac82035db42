"""Run folders under the output root: one new folder per run, never overwritten, complete or absent.

A run writes into a hidden `.incomplete-<name>` folder and renames it to `<name>` only after everything is
saved (every file flushed to disk first). A rename is atomic, so a crash, Ctrl-C or kill never leaves a folder
that looks like a finished run. When something fails after the last optimizer step, the trained adapter is not
thrown away: the folder becomes `<name>-unfinished` with an `UNFINISHED.txt` saying why, which the newest-run
lookup never picks (`keep_unfinished`).

Names are `<date-time>_<run name>`, unique even for runs started in the same second (`-2`, `-3`, ...); "the
newest run" is the one whose name says it started last, so reading or evaluating an old run does not make it
the newest. A project folder (the notebook's) receives its finished run as `final` (`publish_final`) and finds
an unfinished one to continue (`run_to_resume`).
"""

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from .errors import KitError, disk_error_reason
from .files import free_name, numbered_paths, sync_directory, sync_tree

# ftkit.files is the home of file writing; the scripts that import these names from here keep working.
from .files import fsync_path as fsync_path
from .files import numbered as numbered
from .files import update_json as update_json
from .files import write_json as write_json
from .files import write_jsonl as write_jsonl
from .files import write_text_atomic as write_text_atomic

INCOMPLETE_PREFIX = ".incomplete-"
ADAPTER_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILES = ("adapter_model.safetensors", "adapter_model.bin")
UNFINISHED_SUFFIX = "-unfinished"
UNFINISHED_FILE = "UNFINISHED.txt"
RUN_NAME = re.compile(r"^(?P<stamp>\d{8}-\d{6})_(?P<rest>.+?)(?:-(?P<number>\d+))?$")
UNFINISHED_NAME = re.compile(rf"{UNFINISHED_SUFFIX}(?:-\d+)?$")


class RunFolder:
    def __init__(self, output_root: str | Path, run_name: str):
        self.output_root = Path(output_root)
        self.output_root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.finished = False
        for candidate in numbered_paths(self.output_root / f"{stamp}_{run_name}", keep_suffix=False):
            # Reserved by creating the hidden folder (atomic: two runs of the same second cannot both get it).
            name = candidate.name
            if candidate.exists() or (self.output_root / f"{name}{UNFINISHED_SUFFIX}").exists():
                continue
            try:
                (self.output_root / f"{INCOMPLETE_PREFIX}{name}").mkdir()
            except FileExistsError:
                continue
            self.name, self.path = name, self.output_root / f"{INCOMPLETE_PREFIX}{name}"
            return
        raise KitError(f"{self.output_root}: no free run folder name for {stamp}_{run_name}")

    @classmethod
    def adopt(cls, path: str | Path) -> "RunFolder":
        """An unfinished run folder left by an interrupted run, to be continued (`--resume`)."""
        path = Path(path)
        if not path.is_dir() or not path.name.startswith(INCOMPLETE_PREFIX):
            raise KitError(f"--resume {path}: expected an unfinished run folder "
                           f"({INCOMPLETE_PREFIX}<date-time>_<name>)")
        folder = cls.__new__(cls)
        folder.output_root, folder.path, folder.name = path.parent, path, path.name[len(INCOMPLETE_PREFIX):]
        folder.finished = False
        return folder

    def finish(self) -> Path:
        """Give the folder its final name, after flushing its files to disk; never onto an existing run.

        The rename itself is the only step: it either happens (the run is finished) or raises, leaving the
        folder as it was, so no failure in between can remove a finished run.
        """
        sync_tree(self.path)
        for final in numbered_paths(self.output_root / self.name, keep_suffix=False):
            if final.exists():
                continue
            try:
                os.rename(self.path, final)
            except OSError as error:
                if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):  # appeared meanwhile
                    continue
                raise KitError(f"could not rename {self.path} to {final.name} ({error.strerror})") from None
            sync_directory(self.output_root)
            self.path, self.finished = final, True
            return final
        raise KitError(f"{self.output_root}: no free name for the finished run {self.name}")

    def keep_unfinished(self, reason: str) -> Path:
        """Mark the folder as not finished (UNFINISHED.txt, `<name>-unfinished`) instead of removing it.

        Used when the adapter is trained but something failed afterwards. The marker is best effort (the disk
        may be full); the name alone keeps the newest-run lookup away from it. Returns where it now is.
        """
        with contextlib.suppress(OSError):
            (self.path / UNFINISHED_FILE).write_text(
                f"This run did not finish: {reason}\nThe adapter in this folder is the trained one; the files "
                "a finished run has beside it may be missing. Nothing picks this folder as the newest run; "
                "pass it with --adapter to use it.\n", encoding="utf-8")
        for target in numbered_paths(self.output_root / f"{self.name}{UNFINISHED_SUFFIX}", keep_suffix=False):
            if target.exists():
                continue
            try:
                os.rename(self.path, target)
            except OSError as error:
                if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                    continue
                return self.path  # it stays under its hidden name, which nothing reads either
            self.path = target
            return target
        return self.path

    def discard(self) -> None:
        """Remove the unfinished folder; a finished one (renamed by `finish`) is never removed."""
        if self.path.name.startswith(INCOMPLETE_PREFIX):
            shutil.rmtree(self.path, ignore_errors=True)


def is_unfinished(path: Path) -> bool:
    return bool(UNFINISHED_NAME.search(path.name)) or (path / UNFINISHED_FILE).exists()


def run_order_key(path: Path) -> tuple:
    """Sort key of run folders, oldest first: the start time in the name, then the same-second number.

    Not the modification time: evaluating an old run writes into its folder, which must not make it the newest.
    Folders without a date-time name come first (oldest), ordered by name.
    """
    name = path.name[len(INCOMPLETE_PREFIX):] if path.name.startswith(INCOMPLETE_PREFIX) else path.name
    match = RUN_NAME.match(name)
    if not match:
        return ("", 0, name)
    return (match["stamp"], int(match["number"] or 1), name)


def finished_runs(output_root: str | Path) -> list[Path]:
    """Finished run folders (adapter saved, not marked unfinished) under `output_root`, oldest first."""
    root = Path(output_root)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / ADAPTER_FILE).is_file() and not is_unfinished(p)]
    return sorted(runs, key=run_order_key)


def resolve_adapter(adapter: str | None, output_root: str | Path) -> Path:
    """The adapter folder given, or the newest finished run; a clear error when there is none or it is broken."""
    if adapter:
        path = Path(adapter)
        if not (path / ADAPTER_FILE).is_file():
            raise KitError(f"no adapter at {path} (missing {ADAPTER_FILE}); "
                           "train one with: python src/v1_000_lora_finetune.py")
        check_adapter_folder(path)
        return path
    runs = finished_runs(output_root)
    if not runs:
        raise KitError(f"no finished run under {output_root}; train one with: python src/v1_000_lora_finetune.py "
                       "(or pass --adapter PATH, or --no_adapter for the base model alone)")
    check_adapter_folder(runs[-1])
    return runs[-1]


def read_adapter_config(adapter_dir: str | Path) -> dict:
    """adapter_config.json as a dict, or a one-line KitError naming the file (and line) when it is malformed."""
    from .data import read_text_file

    path = Path(adapter_dir) / ADAPTER_FILE
    try:
        config = json.loads(read_text_file(path))
    except json.JSONDecodeError as error:
        raise KitError(f"{path}:{error.lineno}: malformed JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(config, dict):
        raise KitError(f"{path}: expected a JSON object (peft's adapter settings), found {type(config).__name__}")
    return config


def check_adapter_folder(adapter_dir: str | Path) -> None:
    """A folder peft can load: a readable adapter_config.json and its weights file."""
    adapter_dir = Path(adapter_dir)
    read_adapter_config(adapter_dir)
    if not any((adapter_dir / name).is_file() for name in ADAPTER_WEIGHTS_FILES):
        raise KitError(f"{adapter_dir}: adapter_config.json but no adapter weights "
                       f"({' or '.join(ADAPTER_WEIGHTS_FILES)}); "
                       "is it a finished run folder?")


def adapter_base_model(adapter_dir: str | Path | None) -> str:
    """The base model an adapter was trained on (peft records it in adapter_config.json), else the default model.

    What the file says is only a name to look up, never a place to write: a Hub id stays a Hub id, the name of
    a packaged model (`gemma-3-270m`, or a path ending in tmp_docker/models/<it>) is that model's folder in this
    checkout, and anything else must be a model that exists here (a relative path is taken from the repository
    root, as the kit records it). Otherwise a one-line KitError says to pass --model.
    """
    from . import DEFAULT_MODEL_DIR
    from .base_model import is_hub_id, packaged_model_dir

    if adapter_dir is None:
        return str(DEFAULT_MODEL_DIR)
    recorded = read_adapter_config(adapter_dir).get("base_model_name_or_path")
    if not recorded:
        return str(DEFAULT_MODEL_DIR)
    where = Path(adapter_dir) / ADAPTER_FILE
    if not isinstance(recorded, str):
        raise KitError(f"{where}: 'base_model_name_or_path' is {recorded!r}, expected text; pass --model")
    packaged = packaged_model_dir(recorded)
    if packaged is not None:
        return str(packaged)
    local = local_path(recorded)
    if local.exists():
        return str(local)
    if is_hub_id(recorded):
        return recorded
    raise KitError(f"{where} names the base model '{recorded}', which is neither here nor a Hugging Face Hub id; "
                   "pass --model with the base model directory")


def local_path(text: str | Path) -> Path:
    """A path as the kit records it: '~' is the home folder; a relative path that is not found from the current
    folder but is from the repository root is taken from there (run configs name tmp_docker/..., src/output/...)."""
    from . import REPO_ROOT

    path = Path(text).expanduser()
    if path.is_absolute() or path.exists():
        return path
    in_repository = REPO_ROOT / path
    return in_repository if in_repository.exists() else path


def portable_path(path: str | Path, absolute: bool = False) -> str:
    """How a path is recorded in run artifacts: relative to the repository when inside it, `~/...` when under the
    home folder, else as given; `absolute=True` (the user's choice) records the full path."""
    from . import REPO_ROOT

    text = str(path)
    if not text:
        return text
    resolved = Path(text).expanduser()
    if not resolved.is_absolute():
        return text
    resolved = Path(os.path.abspath(resolved))
    if absolute:
        return str(resolved)
    for root, shown in ((Path(REPO_ROOT).resolve(), None), (Path.home().resolve(), "~")):
        try:
            relative = resolved.relative_to(root)
        except ValueError:
            try:
                relative = resolved.resolve().relative_to(root)
            except (ValueError, OSError):
                continue
        return relative.as_posix() if shown is None else f"~/{relative.as_posix()}"
    return text


def check_output_root(path: str | Path, option: str = "--output_dir") -> Path:
    """The folder that receives run folders, created when missing and checked writable, before anything is
    loaded; a file, a folder without write permission or a read-only file system is a one-line KitError."""
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise KitError(f"{option} {root}: is a file, not a folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise KitError(f"{option} {root}: cannot create it, a part of the path is a file") from None
    except OSError as error:
        raise KitError(f"{option} {root}: cannot create it ({error.strerror})") from None
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".write-test-", dir=root)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise KitError(f"{option} {root}: cannot write there ({error.strerror})") from None
    return root


@contextlib.contextmanager
def disk_errors_named(folder: Path, what: str = "the run folder"):
    """A full disk, a quota, a read-only file system or a missing permission while writing becomes one KitError
    line naming the folder; other errors pass unchanged."""
    try:
        yield
    except KitError:
        raise
    except Exception as error:
        reason = disk_error_reason(error)
        if reason is None:
            raise
        name = getattr(error, "filename", None)
        shown = f" ({Path(name).name})" if name else ""
        raise KitError(f"could not write {what} {folder}{shown}: {reason}") from None


def unfinished_run_with_checkpoint(runs_dir: str | Path, run_name: str) -> Path | None:
    """The newest unfinished run of this name that holds a rolling checkpoint (to resume after a disconnect);
    newest by the start time in its name, not by when a file in it last changed."""
    from .checkpoint import CHECKPOINT_FILE

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return None
    candidates = [p for p in runs_dir.glob(f"{INCOMPLETE_PREFIX}*_{run_name}*") if (p / CHECKPOINT_FILE).is_file()
                  and re.fullmatch(rf"{re.escape(INCOMPLETE_PREFIX)}[^_]+_{re.escape(run_name)}(-\d+)?", p.name)]
    return max(candidates, key=run_order_key, default=None)


def run_to_resume(resume: str, runs_dir: str | Path, run_name: str, log=print) -> Path | None:
    """A RESUME setting (the notebook's) as the folder to continue, or None for a new run.

    Nothing is resumed without being asked: "" (the default) starts a new run and only names an unfinished one
    it finds; "latest" continues the newest unfinished run of this project that has a checkpoint; a path
    continues that folder. (A checkpoint is read with weights_only=True either way: it cannot run code.)
    """
    from .checkpoint import CHECKPOINT_FILE

    found = unfinished_run_with_checkpoint(runs_dir, run_name)
    if not resume:
        if found:
            log(f"[resume] {found} can be continued: set RESUME = \"latest\" (or its path) to do so; "
                "starting a new run")
        return None
    if resume == "latest":
        if found is None:
            raise KitError(f"RESUME = \"latest\": no unfinished run of '{run_name}' with a checkpoint under {runs_dir}")
        return found
    path = Path(resume)
    if not (path / CHECKPOINT_FILE).is_file():
        raise KitError(f"RESUME = {resume!r}: no {CHECKPOINT_FILE} there; "
                       "give \"\", \"latest\" or an unfinished run folder")
    return path


def publish_final(run_dir: str | Path, project_dir: str | Path) -> Path:
    """Move a finished run folder to `<project_dir>/final`; an existing final is never touched: the new one
    becomes final-2, final-3, ... A rename on one file system is atomic, so a final folder is always whole."""
    run_dir, project_dir = Path(run_dir), Path(project_dir)
    if not (run_dir / ADAPTER_FILE).is_file():
        raise KitError(f"{run_dir} holds no adapter ({ADAPTER_FILE} missing)")
    final = free_name(project_dir / "final", keep_suffix=False)
    run_dir.rename(final)
    from .model_card import refresh_model_card

    refresh_model_card(final)  # the card names the folder it now lives in
    return final
