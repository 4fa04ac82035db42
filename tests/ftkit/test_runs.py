"""Tests of ftkit.runs: it re-exports the file writing of ftkit.files, a project's final folder is never replaced, a
run folder takes the next free name, and the newest run is the one started last."""

import os
import time

import pytest

import ftkit.files
import ftkit.notebook
import ftkit.runs
from ftkit.errors import KitError
from ftkit.runs import finished_runs, publish_final, resolve_adapter, write_text_atomic


def test_runs_re_exports_the_file_writing_of_ftkit_files():
    for name in ("write_text_atomic", "write_json", "write_jsonl", "update_json", "free_name", "sync_tree",
                 "sync_directory", "fsync_path"):
        assert getattr(ftkit.runs, name) is getattr(ftkit.files, name), name
    assert ftkit.notebook.publish_final is publish_final and ftkit.notebook.run_to_resume is ftkit.runs.run_to_resume
    assert ftkit.runs.write_text_atomic is write_text_atomic  # the name older scripts import from ftkit.runs


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


def test_newest_run_is_the_one_started_last_not_the_one_touched_last(tmp_path):
    for name in ("20260101-120000_lora", "20260102-080000_lora", "20260102-080000_lora-2", "my-copied-adapter"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "adapter_config.json").write_text("{}")
        (tmp_path / name / "adapter_model.safetensors").write_bytes(b"")
    (tmp_path / "20260103-000000_lora-unfinished").mkdir()
    (tmp_path / "20260103-000000_lora-unfinished" / "adapter_config.json").write_text("{}")
    old = tmp_path / "20260101-120000_lora"
    (old / "metrics.json").write_text("{}")  # evaluating an old run writes into it ...
    future = time.time() + 3600
    os.utime(old, (future, future))  # ... and makes it the most recently modified
    assert resolve_adapter(None, tmp_path).name == "20260102-080000_lora-2"
    assert [p.name for p in finished_runs(tmp_path)] == ["my-copied-adapter", "20260101-120000_lora",
                                                         "20260102-080000_lora", "20260102-080000_lora-2"]
