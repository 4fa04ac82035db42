"""Tests of the off-the-shelf baseline column (GiNZA's spaCy NER) of the evaluation script."""

import json
from types import SimpleNamespace

import pytest
from conftest import NOBODY, SENTENCES, chat_record, missing_ja_ginza, write_jsonl

from ftkit.errors import KitError
from ftkit.extraction_metrics import extraction_metrics
from ftkit.ginza_baseline import answer_of, ginza_answers, persons_of_doc

def test_person_entities_become_the_answer_in_order_each_once():
    entity = lambda text, label: SimpleNamespace(text=text, label_=label)
    doc = SimpleNamespace(ents=[entity("豊田章男", "Person"), entity("会長", "Position_Vocation"), entity("3人", "N_Person"),
                                entity("鈴木", "Person"), entity("豊田 章男", "Person"), entity("トヨタ自動車", "Company")])
    assert persons_of_doc(doc) == ["豊田章男", "鈴木"]
    assert json.loads(answer_of(persons_of_doc(doc))) == {"persons": [{"name": "豊田章男"}, {"name": "鈴木"}]}
    assert answer_of([]) == NOBODY


def test_ginza_finds_well_known_persons_and_nobody_where_there_is_none(ginza_nlp):
    answers = ginza_answers([text for text, _ in SENTENCES], ginza_nlp)
    assert [json.loads(a) for a in answers] == [json.loads(reference) for _, reference in SENTENCES]
    metrics = extraction_metrics(answers, [reference for _, reference in SENTENCES])
    assert metrics["name_set_f1"] == 1.0 and metrics["fp_rate_on_negative"] == 0.0 and metrics["schema_ok_rate"] == 1.0


def test_ginza_column_alone_loads_no_language_model(ginza_nlp, tmp_path, monkeypatch):
    import v1_000_eval as evaluation

    def no_language_model(*args, **kwargs):
        raise AssertionError("the ginza column alone must not load a language model")

    for name in ("load_for_inference", "ensure_base_model", "pick_device"):
        monkeypatch.setattr(evaluation, name, no_language_model)
    eval_file = write_jsonl(tmp_path / "eval.jsonl", [chat_record(text, reference) for text, reference in SENTENCES])
    columns = evaluation.main(evaluation.Settings(eval_file=str(eval_file), output_dir=str(tmp_path / "out"), models="ginza"))
    assert list(columns) == ["ginza"] and columns["ginza"]["samples"] == 4 and columns["ginza"]["name_set_f1"] == 1.0
    folder = tmp_path / "out" / "baseline_ginza"  # no run to write into yet
    assert json.loads((folder / "metrics.json").read_text())["eval"]["ginza"]["name_set_f1"] == 1.0
    table = (folder / "metrics_eval.md").read_text()
    assert "| metric | ginza |" in table and "| name_set_f1 | 1.000 |" in table
    rows = [json.loads(line) for line in (folder / "predictions_eval.jsonl").read_text().splitlines()]
    assert [set(row) for row in rows] == [{"reference", "ginza"}] * 4
    assert json.loads(rows[0]["ginza"]) == {"persons": [{"name": "安倍晋三"}]} and rows[3]["ginza"] == NOBODY


def test_asking_for_ginza_without_the_package_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    import v1_000_eval as evaluation

    missing_ja_ginza(monkeypatch)
    eval_file = write_jsonl(tmp_path / "eval.jsonl", [chat_record(*SENTENCES[0])])
    with pytest.raises(SystemExit) as exit_info:
        evaluation.main(evaluation.Settings(eval_file=str(eval_file), output_dir=str(tmp_path / "out"), models="adapter,ginza"))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and len(error.splitlines()) == 1
    assert "pip install ja-ginza==5.3.0 ginza==5.3.0" in error


def test_default_columns_include_ginza_only_when_installed(monkeypatch, capsys):
    import v1_000_eval as evaluation

    assert evaluation.selected_models("base,adapter") == ["base", "adapter"]  # the old commands, unchanged
    assert evaluation.selected_models(" adapter ") == ["adapter"]
    with pytest.raises(KitError, match="base, adapter and ginza"):
        evaluation.selected_models("base,spacy")
    assert capsys.readouterr().out == ""
    missing_ja_ginza(monkeypatch)
    assert evaluation.selected_models("") == ["base", "adapter"]
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "ginza column skipped" in printed[0] and "pip install ja-ginza" in printed[0]
