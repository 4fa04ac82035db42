"""Tests of ftkit.extraction_metrics on hand-written answers and references."""

import json

import pytest

from ftkit.extraction_metrics import extraction_metrics, normalise, schema_ok

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
