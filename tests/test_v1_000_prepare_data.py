"""Tests of the positive/negative mixing script."""

import json

import pytest
from conftest import TINY_RECORDS, write_jsonl

import v1_000_prepare_data as prepare
from ftkit.errors import user_errors_as_exit_codes


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def is_negative_record(record):
    return record["messages"][-1]["content"] == '{"persons": []}'


@pytest.fixture
def source(tmp_path):
    # 3 positives and 1 negative in TINY_RECORDS; 10 copies give 30 positives, 10 negatives.
    return write_jsonl(tmp_path / "in.jsonl", TINY_RECORDS * 10)


def test_positives_repeated_and_first_negatives_kept(source, tmp_path):
    out = tmp_path / "mix.jsonl"
    counts = prepare.main(prepare.Settings(input=[str(source)], output=str(out), positive_repeat=3, negatives=4))
    records = read(out)
    assert counts == {"positives": 90, "negatives": 4, "negative_share": pytest.approx(4 / 94)}
    assert len(records) == 94 and sum(map(is_negative_record, records)) == 4


def test_target_ratio_is_met_and_shuffle_is_seeded(source, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    prepare.main(prepare.Settings(input=[str(source)], output=str(first), negative_ratio=0.2, seed=1))
    prepare.main(prepare.Settings(input=[str(source)], output=str(second), negative_ratio=0.2, seed=1))
    records = read(first)
    assert sum(map(is_negative_record, records)) / len(records) == pytest.approx(0.2, abs=0.02)
    assert first.read_bytes() == second.read_bytes()
    assert records != [r for r in TINY_RECORDS * 10 if r in records][: len(records)]  # shuffled


def test_bad_input_line_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(TINY_RECORDS[0], ensure_ascii=False) + '\n{"oops": 1}\n', encoding="utf-8")
    with pytest.raises(SystemExit), user_errors_as_exit_codes():
        prepare.main(prepare.Settings(input=[str(bad)], output=str(tmp_path / "out.jsonl")))
    assert f"{bad}:2: record matches no schema (keys: oops)" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_impossible_ratio_is_refused(source, tmp_path, capsys):
    with pytest.raises(SystemExit), user_errors_as_exit_codes():
        prepare.main(prepare.Settings(input=[str(source)], output=str(tmp_path / "o.jsonl"), negative_ratio=0.6))
    assert "needs 45 negatives but the input has 10" in capsys.readouterr().err
