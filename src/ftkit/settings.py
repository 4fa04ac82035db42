"""Settings as dataclasses: parsed from the command line by transformers' HfArgumentParser, saved with each run."""

import argparse
import dataclasses
import difflib
import hashlib
import platform
import subprocess
import sys
from dataclasses import asdict, fields
from pathlib import Path

from .data import read_text_file
from .errors import KitError, one_line
from .runs import local_path


def parse_settings(settings_class, args=None, positional: str | None = None):
    """Parse `--flag value` options, and `--config FILE.yml`, into `settings_class`.

    Values come from the dataclass defaults, then the YAML file, then the command line, each overriding the one
    before (TRL's `TrlParser` does the merging). The file is checked first: an unknown key, a wrong type or bad
    YAML ends the program with one line naming the file, the line and the key, and exit status 2. `--help` lists
    every field with its help text. Flags accept both `--learning_rate` and `--learning-rate`. `positional` names a
    field that may also be given without its flag (the prompt of the inference script).
    """
    from trl import TrlParser

    args = list(sys.argv[1:] if args is None else args)
    doc = (sys.modules[settings_class.__module__].__doc__ or "").strip()
    parser = TrlParser(settings_class, description=doc, formatter_class=HelpFormatter, allow_abbrev=False)
    parser.add_argument("--config", metavar="FILE.yml", help="YAML file of settings; flags given here override it")
    if positional:
        parser.add_argument("positional_value", nargs="?", metavar=positional.upper(), help=f"same as --{positional}")
    try:
        config_path = pop_config_path(args)
        if config_path:
            parser.set_defaults_with_config(**read_config(config_path, settings_class))
    except KitError as error:  # before main() starts, so exit here the way the command line does (ftkit/cli.py)
        print(f"error: {one_line(error)}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        settings, *extra = parser.parse_args_into_dataclasses(args=args)
    except ValueError:  # flags no field takes: one line with the nearest names, as for a config file
        unknown = [arg for arg in args if arg.startswith("--") and arg.split("=")[0][2:].replace("-", "_")
                   not in {f.name for f in fields(settings_class)}]
        if not unknown:
            raise
        names = [f.name for f in fields(settings_class)]
        hints = [difflib.get_close_matches(arg.split("=")[0][2:].replace("-", "_"), names, n=1) for arg in unknown]
        said = ", ".join(f"{arg.split('=')[0]}" + (f" (did you mean --{hint[0]}?)" if hint else "")
                         for arg, hint in zip(unknown, hints))
        print(f"error: unknown option {said}; --help lists them all", file=sys.stderr)
        raise SystemExit(2) from None
    if positional and extra and extra[0].positional_value is not None:
        setattr(settings, positional, extra[0].positional_value)
    return settings


def pop_config_path(args: list) -> str | None:
    """Remove `--config PATH` (or `--config=PATH`) from `args` and return PATH."""
    for index, arg in enumerate(args):
        if arg == "--config":
            if index + 1 >= len(args):
                raise KitError("--config needs a file: --config run.yml")
            path = args[index + 1]
            del args[index : index + 2]
            return path
        if arg.startswith("--config="):
            del args[index]
            return arg.split("=", 1)[1]
    return None


def read_config(path: str | Path, settings_class) -> dict:
    """The settings of a YAML file, checked against `settings_class`; KitError names file, line and key."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise KitError(f"config file not found: {path}")
    text = read_text_file(path)  # UTF-8, a byte-order mark accepted; another encoding is one line naming the line
    try:
        document = yaml.compose(text)  # the nodes carry line numbers for the messages below
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise KitError(f"{where}: malformed YAML: {getattr(error, 'problem', None) or error}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise KitError(f"{path}: expected a mapping of settings (key: value lines), got {type(values).__name__}")
    lines = {key_node.value: key_node.start_mark.line + 1 for key_node, _ in document.value}
    fields = {f.name: f for f in dataclasses.fields(settings_class)}
    checked = {}
    for key, value in values.items():
        where = f"{path}:{lines.get(key, '?')}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise KitError(f"{where}: unknown setting '{key}'{hint}; see --help for the settings")
        checked[key] = check_type(value, fields[key], where)
        if is_path_setting(key) and isinstance(checked[key], str) and checked[key]:
            checked[key] = str(local_path(checked[key]))  # run configs record paths from the repository root
    return checked


# Settings holding a file or folder: recorded relative to the repository in run artifacts (see recorded_settings).
PATH_SETTINGS = ("model", "output_dir", "resume", "adapter", "output", "base_config", "script")


def is_path_setting(name: str) -> bool:
    return name in PATH_SETTINGS or name.endswith(("_file", "_dir"))


def recorded_settings(settings) -> dict:
    """The settings as run artifacts record them (config.yml, run.json, tracking parameters): paths relative to
    the repository (or `~/...`; a Hub id stays as it is) unless `record_absolute_paths` is set, and secrets
    (a password in a URL, a token) masked."""
    from .redaction import redact
    from .runs import portable_path

    absolute = bool(getattr(settings, "record_absolute_paths", False))
    values = {}
    for key, value in asdict(settings).items():
        if isinstance(value, Path):
            value = str(value)
        if is_path_setting(key) and isinstance(value, str):
            value = portable_path(value, absolute=absolute)
        values[key] = redact(value)
    return values


def check_type(value, field, where: str):
    """`value` as the field's type (int, float, str, bool or Optional[bool]), or a KitError saying what was expected."""
    expected = field.type.__name__ if isinstance(field.type, type) else str(field.type).replace("typing.", "")
    if expected in ("Optional[bool]", "bool | None") and (value is None or isinstance(value, bool)):
        return value
    if expected == "bool" and isinstance(value, bool):
        return value
    if expected == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if expected == "float" and not isinstance(value, bool):
        try:  # numbers, and text such as 5e-4, which YAML 1.1 (no dot) reads as a string
            return float(value)
        except (TypeError, ValueError):
            pass
    if expected == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return ",".join(value)  # lists such as target modules may be written as YAML lists
    shown = {"Optional[bool]": "true, false or null", "bool | None": "true, false or null", "bool": "true or false",
             "int": "a whole number", "float": "a number", "str": "text"}.get(expected, expected)
    raise KitError(f"{where}: '{field.name}' is {value!r}, expected {shown}")


def save_config(settings, path: Path) -> None:
    """The fully resolved settings as YAML: `--config` on this file repeats the run."""
    import yaml

    from .runs import write_text_atomic

    values = recorded_settings(settings)
    header = "# resolved settings of this run; repeat it with: --config <this file>\n"
    write_text_atomic(path, header + yaml.safe_dump(values, sort_keys=False, allow_unicode=True))


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the script's docstring as written and shows each setting's default."""


def check_choice(value, choices, name: str):
    if value not in choices:
        raise KitError(f"--{name} is '{value}', expected one of: {', '.join(map(str, choices))}")


def check_number(value, name: str, *, minimum=None, maximum=None, above=None, below=None, whole: bool = False,
                 meaning: str = ""):
    """A setting's number within its range, or a one-line KitError such as
    `--lora_r is 0, expected a whole number of at least 1 (LoRA rank)`. NaN and infinities are refused."""
    import math

    parts = []
    if minimum is not None:
        parts.append(f"at least {minimum}")
    if above is not None:
        parts.append(f"above {above}")
    if below is not None:
        parts.append(f"below {below}")
    if maximum is not None:
        parts.append(f"at most {maximum}")
    bounds = " and ".join(parts)
    if bounds.startswith("at "):
        bounds = f"of {bounds}"
    expected = f"{'a whole number' if whole else 'a number'}{' ' + bounds if bounds else ''}"
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          and (not whole or float(value).is_integer())
          and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
          and (above is None or value > above) and (below is None or value < below))
    if not ok:
        raise KitError(f"--{name} is {value!r}, expected {expected}{f' ({meaning})' if meaning else ''}")
    return value


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent,
                             timeout=5)
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
    from .runs import portable_path

    absolute = bool(getattr(settings, "record_absolute_paths", False))
    return {
        "settings": recorded_settings(settings),
        "python": platform.python_version(),
        "libraries": versions,
        "git_commit": git_commit(),
        "data_sha256": {portable_path(path, absolute=absolute): file_sha256(path)
                        for path in data_files if path and Path(path).is_file()},
    }
