"""Tests of ftkit.validation: a metric's direction comes from its name; a missing value is no improvement."""

import pytest

from ftkit.validation import PeriodicValidation, greater_is_better_for


@pytest.mark.parametrize("metric, greater", [
    ("validation_loss", False), ("final_train_loss", False), ("fp_rate_on_negative", False),
    ("name_set_f1", True), ("json_parse_rate", True), ("all_fields_exact_match_rate", True)])
def test_the_direction_is_inferred_from_the_name(metric, greater):
    assert greater_is_better_for(metric) is greater
    assert greater_is_better_for(metric, override=not greater) is (not greater)


def test_a_missing_metric_value_is_no_improvement(monkeypatch):
    import ftkit.validation

    monkeypatch.setattr(ftkit.validation, "evaluate_loss", lambda *args: 1.0)
    values = iter([None, 0.4, float("nan"), 0.3])
    validation = PeriodicValidation(None, [], 0, "cpu", every=1, patience=2,
                                    generation_metrics=lambda: {"name_set_f1": next(values)},
                                    metric="name_set_f1", log=lambda line: None)
    assert [validation(step) for step in (1, 2, 3)] == [False, False, False]
    assert (validation.best_value, validation.best_step) == (0.4, 2)
    assert validation(4) is True  # nan, then 0.3: two evaluations without improvement
    state = validation.state_dict()
    assert state["best_value"] == 0.4 and "best_loss" not in state
    older = PeriodicValidation(None, [], 0, "cpu", every=1)
    older.load_state_dict({"points": [], "best_loss": 0.7, "best_step": 3, "evaluations_without_improvement": 0,
                           "best_weights": None})  # a checkpoint of an earlier version
    assert older.best_value == older.best_loss == 0.7
