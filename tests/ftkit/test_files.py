"""Tests of ftkit.files: free names, atomic writes (own temporary, fsync first, old file kept on failure), modes."""

import errno
import json
import os
from pathlib import Path

import pytest
from conftest import TINY_RECORDS

import ftkit.files
from ftkit.data import load_samples
from ftkit.files import free_name, write_json, write_jsonl, write_text_atomic


def test_free_name_numbers_from_2_when_taken_and_keeps_a_file_suffix(tmp_path):
    assert free_name(tmp_path / "model.gguf") == tmp_path / "model.gguf"
    (tmp_path / "model.gguf").touch()
    assert free_name(tmp_path / "model.gguf") == tmp_path / "model-2.gguf"
    (tmp_path / "model-2.gguf").touch()
    assert free_name(tmp_path / "model.gguf") == tmp_path / "model-3.gguf"
    (tmp_path / "run.r0.5").mkdir()  # a folder whose name holds a dot is numbered after the whole name
    assert free_name(tmp_path / "run.r0.5", keep_suffix=False) == tmp_path / "run.r0.5-2"


def test_free_name_can_require_the_files_beside_it_to_be_free(tmp_path):
    def taken(path):
        return path.exists() or path.with_suffix(".md").exists()

    (tmp_path / "model.md").touch()  # only the card of the first name exists
    assert free_name(tmp_path / "model.gguf", taken) == tmp_path / "model-2.gguf"


def test_an_atomic_write_that_fails_midway_leaves_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    write_json(target, {"loss": 1.0})

    def replace_fails(source, destination):  # the data is written and flushed; the rename is what fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ftkit.files.os, "replace", replace_fails)
    with pytest.raises(OSError, match="No space left"):
        write_json(target, {"loss": 0.5})
    monkeypatch.undo()
    assert json.loads(target.read_text(encoding="utf-8")) == {"loss": 1.0}
    assert os.listdir(tmp_path) == ["metrics.json"]  # no temporary file left behind


def test_a_jsonl_record_that_cannot_be_written_leaves_the_previous_file(tmp_path):
    target = write_jsonl(tmp_path / "train.jsonl", TINY_RECORDS)
    before = target.read_bytes()
    with pytest.raises(TypeError):
        write_jsonl(target, [TINY_RECORDS[0], {"text": object()}])
    assert target.read_bytes() == before and os.listdir(tmp_path) == ["train.jsonl"]
    assert [s.messages for s in load_samples(target)] == [r["messages"] for r in TINY_RECORDS]
    assert target.read_text(encoding="utf-8").splitlines()[0] == json.dumps(TINY_RECORDS[0], ensure_ascii=False)


def test_keep_mode_gives_the_permissions_of_a_plain_write(tmp_path):
    previous = os.umask(0o022)
    try:
        write_jsonl(tmp_path / "private.jsonl", TINY_RECORDS)
        write_jsonl(tmp_path / "shared.jsonl", TINY_RECORDS, keep_mode=True)
        (tmp_path / "group.txt").write_text("old")
        os.chmod(tmp_path / "group.txt", 0o640)
        write_text_atomic(tmp_path / "group.txt", "new", keep_mode=True)
    finally:
        os.umask(previous)
    modes = [(tmp_path / name).stat().st_mode & 0o777 for name in ("private.jsonl", "shared.jsonl", "group.txt")]
    assert modes == [0o600, 0o644, 0o640]  # the default stays owner-only, as run folders have always been
    assert (tmp_path / "group.txt").read_text() == "new"


def test_write_text_atomic_uses_its_own_temporary_and_fsyncs_before_the_rename(tmp_path, monkeypatch):
    import ftkit.runs

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(ftkit.runs.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(ftkit.runs.os, "replace",
                        lambda a, b: (events.append(("replace", Path(a).name)), real_replace(a, b))[1])
    target = tmp_path / "metrics.json"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    replaced = [event[1] for event in events if isinstance(event, tuple)]
    assert len(set(replaced)) == 2 and all(name.startswith(".metrics.json.") for name in replaced)  # unique names
    assert events.index("fsync") < events.index(("replace", replaced[0]))

    def fails(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ftkit.runs.os, "fsync", fails)
    with pytest.raises(OSError):
        write_text_atomic(target, "three")
    assert target.read_text() == "two" and sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
