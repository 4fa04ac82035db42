"""Tests of ftkit.notebook, what the notebook calls: record mapping, local data, the final folder, the resume."""

import json

import pytest
from conftest import REPO_ROOT, TINY_RECORDS, write_jsonl

from ftkit.data import load_samples
from ftkit.errors import KitError
from ftkit.notebook import data_files, is_hub_dataset_id, kit_record, unfinished_run_with_checkpoint


def test_records_of_other_shapes_are_mapped_to_the_kits():
    assert kit_record({"question": "Q", "answer": "A", "id": 3}, {"prompt": "question", "completion": "answer"}) == {
        "prompt": "Q", "completion": "A"}
    sharegpt = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
    assert kit_record(sharegpt) == {"messages": [{"role": "user", "content": "hi"},
                                                 {"role": "assistant", "content": "hello"}]}
    conversational = {"prompt": [{"role": "user", "content": "Q"}],
                      "completion": [{"role": "assistant", "content": "A"}]}
    assert kit_record(conversational)["messages"][-1] == {"role": "assistant", "content": "A"}
    with pytest.raises(KitError, match="COLUMN_MAP names body"):
        kit_record({"title": "x"}, {"text": "body"})


def test_local_data_is_used_as_is_or_mapped_with_a_column_map(tmp_path):
    plain = write_jsonl(tmp_path / "plain.jsonl", TINY_RECORDS)
    assert data_files(str(plain), "", {}, tmp_path / "data") == (plain, None)
    other = write_jsonl(tmp_path / "other.jsonl", [{"q": "質問", "a": "答え"}] * 3)
    train, validation = data_files(str(other), str(other), {"prompt": "q", "completion": "a"}, tmp_path / "data")
    assert train == tmp_path / "data" / "train.jsonl" and validation == tmp_path / "data" / "validation.jsonl"
    assert [s.schema for s in load_samples(train)] == ["prompt_completion"] * 3
    assert is_hub_dataset_id("owner/name")
    assert not is_hub_dataset_id(str(plain)) and not is_hub_dataset_id("data/x.jsonl")


def test_unfinished_runs_with_a_checkpoint_are_found(tmp_path):
    # (publish_final, which the notebook's step 6 calls, has its test in test_runs.py)
    runs = tmp_path / "project" / "runs"
    (runs / "20260101_p").mkdir(parents=True)  # a finished run: nothing to resume
    assert unfinished_run_with_checkpoint(runs, "p") is None
    unfinished = runs / ".incomplete-20260104_p"
    unfinished.mkdir()
    assert unfinished_run_with_checkpoint(runs, "p") is None  # no checkpoint in it: nothing to resume either
    (unfinished / "checkpoint.pt").write_bytes(b"")
    assert unfinished_run_with_checkpoint(runs, "p") == unfinished


def test_notebook_resumes_only_when_asked(tmp_path, capsys):
    from ftkit.notebook import run_to_resume

    runs = tmp_path / "runs"
    found = runs / ".incomplete-20260101-000000_p"
    found.mkdir(parents=True)
    (found / "checkpoint.pt").write_bytes(b"")
    assert run_to_resume("", runs, "p") is None  # the default: a new run, the found one only named
    assert str(found) in capsys.readouterr().out
    assert run_to_resume("latest", runs, "p") == found
    assert run_to_resume(str(found), runs, "p") == found
    with pytest.raises(KitError, match="no checkpoint.pt there"):
        run_to_resume(str(tmp_path), runs, "p")
    with pytest.raises(KitError, match="no unfinished run of 'q'"):
        run_to_resume("latest", runs, "q")
    notebook = json.loads((REPO_ROOT / "src" / "v1_000_finetune.ipynb").read_text(encoding="utf-8"))
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert any('RESUME = ""' in source for source in sources)
    assert any("run_to_resume(RESUME" in source for source in sources)
    assert not any("unfinished_run_with_checkpoint(" in source for source in sources)
