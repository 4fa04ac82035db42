"""Run folders under the output root: one new folder per run, never overwritten, complete or absent.

A run writes into a hidden `.incomplete-<name>` folder and renames it to `<name>` only after everything is
saved. A rename is atomic, so a crash, Ctrl-C or kill never leaves a folder that looks like a finished run.
"""

import json
import shutil
import time
from pathlib import Path

from .errors import KitError

INCOMPLETE_PREFIX = ".incomplete-"
ADAPTER_FILE = "adapter_config.json"


class RunFolder:
    def __init__(self, output_root: str | Path, run_name: str):
        self.output_root = Path(output_root)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.name = f"{stamp}_{run_name}"
        self.output_root.mkdir(parents=True, exist_ok=True)
        self.path = self.output_root / f"{INCOMPLETE_PREFIX}{self.name}"
        self.path.mkdir()

    @classmethod
    def adopt(cls, path: str | Path) -> "RunFolder":
        """An unfinished run folder left by an interrupted run, to be continued (`--resume`)."""
        path = Path(path)
        if not path.is_dir() or not path.name.startswith(INCOMPLETE_PREFIX):
            raise KitError(f"--resume {path}: expected an unfinished run folder ({INCOMPLETE_PREFIX}<date-time>_<name>)")
        folder = cls.__new__(cls)
        folder.output_root, folder.path, folder.name = path.parent, path, path.name[len(INCOMPLETE_PREFIX):]
        return folder

    def finish(self) -> Path:
        """Give the folder its final name; a run of the same second gets a suffix rather than overwriting."""
        final = self.output_root / self.name
        suffix = 1
        while final.exists():
            suffix += 1
            final = self.output_root / f"{self.name}-{suffix}"
        self.path.rename(final)
        self.path = final
        return final

    def discard(self) -> None:
        """Remove the unfinished folder; a finished one (renamed by `finish`) is never removed."""
        if self.path.name.startswith(INCOMPLETE_PREFIX):
            shutil.rmtree(self.path, ignore_errors=True)


def write_json(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def finished_runs(output_root: str | Path) -> list[Path]:
    root = Path(output_root)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / ADAPTER_FILE).is_file()]
    return sorted(runs, key=lambda p: (p.stat().st_mtime, p.name))


def resolve_adapter(adapter: str | None, output_root: str | Path) -> Path:
    """The adapter folder given, or the newest finished run; a clear error when there is none."""
    if adapter:
        path = Path(adapter)
        if not (path / ADAPTER_FILE).is_file():
            raise KitError(f"no adapter at {path} (missing {ADAPTER_FILE}); train one with: python src/v1_000_lora_finetune.py")
        return path
    runs = finished_runs(output_root)
    if not runs:
        raise KitError(f"no finished run under {output_root}; train one with: python src/v1_000_lora_finetune.py "
                       "(or pass --adapter PATH, or --no_adapter for the base model alone)")
    return runs[-1]


def adapter_base_model(adapter_dir: str | Path | None) -> str:
    """The base model an adapter was trained on (peft records it in adapter_config.json), else the default model."""
    from . import DEFAULT_MODEL_DIR

    if adapter_dir is None:
        return str(DEFAULT_MODEL_DIR)
    recorded = json.loads((Path(adapter_dir) / ADAPTER_FILE).read_text()).get("base_model_name_or_path")
    return recorded or str(DEFAULT_MODEL_DIR)


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def update_json(path: Path, key: str, value) -> None:
    """Set one key of a JSON object file (created when missing), atomically."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data[key] = value
    write_json(path, data)
