"""Writing files so that a reader, a crash or a second run never sees half of one, and picking names never used.

Every file the kit writes beside a run goes through `replace_atomically`: a temporary file of its own in the same
folder, flushed to disk, then renamed over the target. `write_text_atomic` is it for text, `write_json` and
`write_jsonl` the two formats on top of that; binary writers (torch.save, safetensors) call it directly.
`free_name` gives `name`, else `name-2`, `name-3`, ...: the kit's one convention for a new file or folder beside
existing ones, which it never overwrites. ftkit.runs re-exports the writers that older scripts import from it.
"""

import contextlib
import json
import os
import tempfile
from pathlib import Path

from .errors import KitError

MAX_NUMBER = 10_000  # far beyond any real collision; a bound so that a broken file system cannot loop forever


def fsync_path(path: Path) -> None:
    """fsync one file or directory, opened read-only. Best effort: a file system that refuses it is left as it is."""
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def sync_directory(folder: Path) -> None:
    """fsync a directory, so that the names in it (a rename, a new file) survive a power cut. Best effort."""
    fsync_path(folder)


def sync_tree(folder: Path) -> None:
    """fsync every file in `folder` (and the folder), so that a rename after it never points at lost data."""
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and not path.is_symlink():
            fsync_path(path)
    sync_directory(folder)


def plain_write_mode(path: Path) -> int:
    """The permissions `open(path, "w")` leaves: the existing file's, else those the umask gives a new file."""
    if Path(path).is_file():
        return Path(path).stat().st_mode & 0o7777
    umask = os.umask(0)  # the only portable way to read it is to set it, and set it back at once
    os.umask(umask)
    return 0o666 & ~umask


def replace_atomically(path: Path, write, keep_mode: bool = False, encoding: str | None = None,
                       temporary: Path | None = None) -> Path:
    """Write `path` with `write(handle)` into a temporary file beside it, flush it to disk and rename it over
    `path`, so a reader, a crash or a kill sees the old file or the new one, whole; returns `path`.

    The handle is binary (`torch.save(state, handle)`, `handle.write(safetensors.torch.save(tensors))`), or text
    in `encoding`. The temporary name is unique, so two writers of the same file never share it; a file only one
    process writes may name a fixed `temporary` instead, so that a kill mid-write leaves one known file (the next
    write reuses it, a cleanup can remove it) rather than a new one each time. A failed write leaves the old file
    as it was and no temporary file behind. The file is readable by its owner only, like the temporary file;
    `keep_mode` gives it the permissions a plain write would (the old file's, else the umask's), for data that
    other accounts or a container read too.
    """
    path = Path(path)
    mode = plain_write_mode(path) if keep_mode else None
    if temporary is None:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    else:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if mode is not None:
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w" if encoding else "wb", encoding=encoding) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    sync_directory(path.parent)
    return path


def write_text_atomic(path: Path, text: str, keep_mode: bool = False) -> None:
    """`text` as a UTF-8 file, atomically (`replace_atomically`); `keep_mode` as there."""
    replace_atomically(path, lambda handle: handle.write(text), keep_mode, encoding="utf-8")


def write_json(path: Path, data, keep_mode: bool = False) -> None:
    """`data` as indented UTF-8 JSON, atomically; values JSON lacks (paths, dates) are written as text.
    `keep_mode` as in `write_text_atomic`."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", keep_mode)


def write_jsonl(path: Path, records, keep_mode: bool = False) -> Path:
    """One JSON object per line, UTF-8, atomically (the format every data reader of the kit takes); returns `path`.

    Everything is serialised before the file is touched, so a record JSON cannot hold leaves the old file intact.
    `keep_mode` as in `write_text_atomic`.
    """
    path = Path(path)
    write_text_atomic(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), keep_mode)
    return path


def update_json(path: Path, key: str, value) -> None:
    """Set one key of a JSON object file (created when missing), atomically."""
    data = json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else {}
    data[key] = value
    write_json(path, data)


def numbered(path: Path, number: int, keep_suffix: bool = True) -> Path:
    """`path` for 1, else `path-<number>`; with `keep_suffix` the number goes before a file's suffix
    (model-2.gguf), without it after the whole name (a run folder whose name holds a dot)."""
    path = Path(path)
    if number == 1:
        return path
    if keep_suffix:
        return path.with_name(f"{path.stem}-{number}{path.suffix}")
    return path.with_name(f"{path.name}-{number}")


def numbered_paths(path: Path, keep_suffix: bool = True):
    """`path`, `path-2`, `path-3`, ...: the candidates for a step that reserves a name atomically (mkdir, rename)
    and moves on to the next one when another process got there first."""
    for number in range(1, MAX_NUMBER):
        yield numbered(path, number, keep_suffix)


def free_name(path: Path, taken=None, keep_suffix: bool = True) -> Path:
    """The first of `path`, `path-2`, `path-3`, ... that is free: that does not exist, or for which `taken`
    (given a candidate) is false, such as a file that must be free together with the files written beside it."""
    taken = taken or (lambda candidate: candidate.exists())
    for candidate in numbered_paths(path, keep_suffix):
        if not taken(candidate):
            return candidate
    raise KitError(f"{Path(path).parent}: no free name for {Path(path).name}")
