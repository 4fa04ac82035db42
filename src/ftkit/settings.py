"""Settings as dataclasses: parsed from the command line by transformers' HfArgumentParser, saved with each run."""

import argparse
import hashlib
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from .errors import KitError


def parse_settings(settings_class, args=None, positional: str | None = None):
    """Parse `--flag value` options into `settings_class`; `--help` lists every field with its help text.

    Flags accept both `--learning_rate` and `--learning-rate`. `positional` names a field that may also be
    given without its flag (the prompt of the inference script).
    """
    from transformers import HfArgumentParser

    doc = (sys.modules[settings_class.__module__].__doc__ or "").strip()
    parser = HfArgumentParser(settings_class, description=doc, formatter_class=HelpFormatter)
    if positional:
        parser.add_argument("positional_value", nargs="?", metavar=positional.upper(), help=f"same as --{positional}")
    settings, *extra = parser.parse_args_into_dataclasses(args=args)
    if positional and extra and extra[0].positional_value is not None:
        setattr(settings, positional, extra[0].positional_value)
    return settings


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the script's docstring as written and shows each setting's default."""


def check_choice(value, choices, name: str):
    if value not in choices:
        raise KitError(f"--{name} is '{value}', expected one of: {', '.join(map(str, choices))}")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_metadata(settings, data_files: list) -> dict:
    """Everything needed to know how a run was made: settings, library versions, commit, data checksums."""
    import importlib.metadata as metadata

    versions = {}
    for package in ("torch", "transformers", "peft", "trl", "accelerate", "bitsandbytes", "datasets"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {
        "settings": {key: str(value) if isinstance(value, Path) else value for key, value in asdict(settings).items()},
        "python": platform.python_version(),
        "libraries": versions,
        "git_commit": git_commit(),
        "data_sha256": {str(path): file_sha256(path) for path in data_files if path and Path(path).is_file()},
    }
