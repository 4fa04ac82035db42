"""Tests of the extraction metrics on hand-written cases, and of the evaluation script end to end."""

import json

import pytest
from conftest import TINY_RECORDS, write_jsonl

from ftkit.extraction_metrics import extraction_metrics, normalise, schema_ok
from ftkit.ginza_baseline import ginza_missing

TARO = '{"persons": [{"name": "山田太郎", "address": "東京都渋谷区"}]}'
TWO = '{"persons": [{"name": "山田太郎", "address": "東京都渋谷区"}, {"name": "佐藤花子"}]}'
NONE = '{"persons": []}'


def test_perfect_answers_score_one_everywhere():
    metrics = extraction_metrics([TARO, TWO, NONE], [TARO, TWO, NONE])
    for key in ("json_parse_rate", "schema_ok_rate", "person_presence_f1", "name_set_f1", "address_set_f1",
                "all_fields_exact_match_rate", "name_exact_match_rate", "address_exact_match_rate"):
        assert metrics[key] == 1.0, key
    assert metrics["fp_rate_on_negative"] == 0.0 and metrics["negative_samples"] == 1


def test_empty_answers_find_nobody():
    metrics = extraction_metrics([NONE, NONE], [TARO, TWO])
    assert metrics["json_parse_rate"] == 1.0 and metrics["schema_ok_rate"] == 1.0
    assert metrics["name_set_f1"] == 0.0 and metrics["person_presence_f1"] == 0.0
    assert metrics["fp_rate_on_negative"] is None  # no negative sample to judge


def test_partial_overlap_gives_micro_f1():
    # Reference names: 山田太郎, 佐藤花子. Predicted: 山田太郎 (right), 鈴木 (wrong): tp=1, fp=1, fn=1.
    predicted = '{"persons": [{"name": "山田太郎", "address": "東京都渋谷区"}, {"name": "鈴木"}]}'
    metrics = extraction_metrics([predicted], [TWO])
    assert metrics["name_set_f1"] == pytest.approx(0.5)
    assert metrics["address_set_f1"] == 1.0
    assert metrics["all_fields_exact_match_rate"] == 0.0 and metrics["address_exact_match_rate"] == 1.0


def test_invalid_json_counts_as_naming_nobody():
    metrics = extraction_metrics(['{"persons": [{"name": "山田太郎"', "山田太郎です"], [TARO, NONE])
    assert metrics["json_parse_rate"] == 0.0 and metrics["schema_ok_rate"] == 0.0
    assert metrics["name_set_f1"] == 0.0 and metrics["fp_rate_on_negative"] == 0.0


def test_invented_person_on_a_negative_is_a_false_positive():
    metrics = extraction_metrics([TARO, NONE, NONE, NONE], [NONE, NONE, NONE, NONE])
    assert metrics["fp_rate_on_negative"] == 0.25 and metrics["negative_samples"] == 4


def test_comparison_ignores_width_and_whitespace():
    assert normalise("山田 太郎") == normalise("山田太郎") and normalise("ＡＢＣ１") == "ABC1"
    predicted = '{"persons": [{"name": "山田 太郎", "address": "東京都渋谷区"}]}'
    assert extraction_metrics([predicted], [TARO])["all_fields_exact_match_rate"] == 1.0


def test_schema_check_rejects_wrong_shapes():
    assert schema_ok(json.loads(TWO)) and schema_ok({"persons": [{"name": "A", "address": None}]})
    assert not schema_ok({"people": []})
    assert not schema_ok({"persons": [{"name": 3}]})
    assert not schema_ok({"persons": [{"name": "A", "age": 3}]})
    assert not schema_ok([])


def test_non_json_references_fall_back_to_exact_match():
    metrics = extraction_metrics(["こんにちは", "さようなら"], ["こんにちは", "またね"])
    assert metrics["references_not_json"] == 2 and metrics["exact_match_rate_on_non_json"] == 0.5
    assert metrics["json_parse_rate"] is None


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
