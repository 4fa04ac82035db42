"""Tests of the evaluation script end to end: its table, the base and adapter columns on a tiny run, and the GiNZA
column (alone it loads no language model, without its package it is one line, by default only where installed);
and of generation metrics recorded while training. The metrics themselves have tests in tests/ftkit/."""

import json

import pytest
from conftest import NOBODY, SENTENCES, TINY_RECORDS, chat_record, missing_ja_ginza, write_jsonl

from ftkit.errors import KitError
from ftkit.ginza_baseline import ginza_missing
from ftkit.errors import user_errors_as_exit_codes


def test_the_eval_table_keeps_its_format():
    import v1_000_eval as evaluation

    columns = {"base": {"name_set_f1": 0.5, "samples": 4, "fp_rate_on_negative": None},
               "adapter": {"name_set_f1": 0.91666, "samples": 4, "fp_rate_on_negative": 0.0}}
    assert evaluation.metrics_table(columns, "eval (4 samples)") == (
        "### eval (4 samples)\n\n| metric | base | adapter |\n|---|---:|---:|\n| name_set_f1 | 0.500 | 0.917 |\n"
        "| samples | 4 | 4 |\n| fp_rate_on_negative | n/a | 0.000 |\n")


def test_eval_script_writes_metrics_and_table_for_base_and_adapter(tiny_model_dirs, tiny_data, tmp_path):
    import v1_000_eval as evaluation
    import v1_000_lora_finetune as finetune

    train, validation = tiny_data
    settings = finetune.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train), validation_file="",
                                 output_dir=str(tmp_path / "out"), max_steps=2)
    run_dir = finetune.main(settings)
    eval_file = write_jsonl(tmp_path / "eval.jsonl", TINY_RECORDS)
    columns = evaluation.main(evaluation.Settings(eval_file=str(eval_file), output_dir=str(tmp_path / "out"),
                                                  model=str(tiny_model_dirs["gemma3"]), max_new_tokens=8))
    # the default columns: base and adapter, and the off-the-shelf ginza baseline where ja-ginza is installed
    baseline = ["ginza"] if ginza_missing() is None else []
    assert list(columns) == ["base", "adapter", *baseline] and columns["adapter"]["samples"] == 4
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["eval"]["base"]["samples"] == 4 and "name_set_f1" in saved["eval"]["adapter"]
    table = (run_dir / "metrics_eval.md").read_text()
    assert "| metric | " + " | ".join(["base", "adapter", *baseline]) + " |" in table and "| name_set_f1 |" in table
    if baseline:  # the same rows in every column
        assert set(saved["eval"]["ginza"]) == set(saved["eval"]["adapter"]) and saved["eval"]["ginza"]["samples"] == 4
    predictions = [json.loads(line) for line in (run_dir / "predictions_eval.jsonl").read_text().splitlines()]
    assert len(predictions) == 4 and set(predictions[0]) == {"reference", "base", "adapter", *baseline}


def test_training_can_record_generation_metrics(tiny_model_dirs, tiny_data, tmp_path):
    import v1_000_lora_finetune as finetune

    train, validation = tiny_data
    run_dir = finetune.main(finetune.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train),
                                              validation_file=str(validation), output_dir=str(tmp_path / "out"),
                                              max_steps=1, eval_generate=3))
    generation = json.loads((run_dir / "train_metrics.json").read_text())["generation_metrics"]
    assert generation["samples"] == 3 and 0.0 <= generation["json_parse_rate"] <= 1.0


def test_ginza_column_alone_loads_no_language_model(ginza_nlp, tmp_path, monkeypatch):
    import v1_000_eval as evaluation

    def no_language_model(*args, **kwargs):
        raise AssertionError("the ginza column alone must not load a language model")

    for name in ("load_for_inference", "ensure_base_model", "pick_device"):
        monkeypatch.setattr(evaluation, name, no_language_model)
    eval_file = write_jsonl(tmp_path / "eval.jsonl", [chat_record(text, reference) for text, reference in SENTENCES])
    columns = evaluation.main(evaluation.Settings(eval_file=str(eval_file), output_dir=str(tmp_path / "out"),
                                                  models="ginza"))
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
    with pytest.raises(SystemExit) as exit_info, user_errors_as_exit_codes():
        evaluation.main(evaluation.Settings(eval_file=str(eval_file), output_dir=str(tmp_path / "out"),
                                            models="adapter,ginza"))
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
