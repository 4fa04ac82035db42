"""Tests of ftkit.runs and the file writing it re-exports (ftkit.files): new names never overwrite anything,
a write that fails leaves the previous file as it was, a project's final folder is never replaced."""

import json
import os

import pytest
from conftest import TINY_RECORDS

import ftkit.files
import ftkit.notebook
import ftkit.runs
from ftkit.data import load_samples
from ftkit.errors import KitError
from ftkit.runs import free_name, publish_final, write_json, write_jsonl, write_text_atomic


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


def test_runs_re_exports_the_file_writing_of_ftkit_files():
    for name in ("write_text_atomic", "write_json", "write_jsonl", "update_json", "free_name", "sync_tree",
                 "sync_directory", "fsync_path"):
        assert getattr(ftkit.runs, name) is getattr(ftkit.files, name), name
    assert ftkit.notebook.publish_final is publish_final and ftkit.notebook.run_to_resume is ftkit.runs.run_to_resume
    assert ftkit.runs.write_text_atomic is write_text_atomic  # the name older scripts import from ftkit.runs


def test_merging_free_path_is_free_name(tmp_path):
    from ftkit.merging import free_path

    (tmp_path / "run-merged").mkdir()
    assert free_path(tmp_path / "run-merged") == tmp_path / "run-merged-2"


def test_publish_final_never_replaces_a_final_folder(tmp_path):
    project = tmp_path / "project"
    published = []
    for index in range(3):
        run = project / "runs" / f"2026010{index}-000000_p"
        run.mkdir(parents=True)
        (run / "adapter_config.json").write_text(str(index))
        published.append(publish_final(run, project))
    assert [p.name for p in published] == ["final", "final-2", "final-3"]
    assert [(p / "adapter_config.json").read_text() for p in published] == ["0", "1", "2"]
    empty = project / "runs" / "20260104-000000_p"
    empty.mkdir()
    with pytest.raises(KitError, match="holds no adapter"):
        publish_final(empty, project)
    assert empty.is_dir() and not (project / "final-4").exists()


def test_a_run_folder_takes_the_next_free_number_in_the_same_second(tmp_path, monkeypatch):
    monkeypatch.setattr(ftkit.runs.time, "strftime", lambda fmt: "20260101-000000")
    (tmp_path / "20260101-000000_lora").mkdir()
    (tmp_path / "20260101-000000_lora-2-unfinished").mkdir()  # kept after a failure: its name is taken too
    folder = ftkit.runs.RunFolder(tmp_path, "lora")
    assert folder.path.name == ".incomplete-20260101-000000_lora-3"
    (tmp_path / "20260101-000000_lora-3").mkdir()  # a same-named folder appeared meanwhile
    assert folder.finish().name == "20260101-000000_lora-3-2"  # numbered after the name it reserved


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
