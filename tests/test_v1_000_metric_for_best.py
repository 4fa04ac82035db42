"""Selecting by a metric: --metric_for_best / --greater_is_better drive early stopping and --keep best, and the
sweep's --metric ranks by the same names with the same inferred direction.

The generation metric comes from a fake: generate_answers and extraction_metrics are replaced by functions that
return a scripted name_set_f1 per evaluation, so the tiny model's (random) answers do not matter and no time is
spent generating. The inference of the direction and the flag's parsing have tests in tests/ftkit/.
"""

import json

import pytest
import yaml
from conftest import settings_for

import v1_000_lora_finetune as finetune
import v1_000_sweep as sweep
from ftkit.errors import user_errors_as_exit_codes


def scripted_generation_metrics(monkeypatch, values: list) -> list:
    """Each evaluation's generation metrics: name_set_f1 from `values` in turn (the last one repeated)."""
    calls = []

    def fake_metrics(answers, references):
        value = values[min(len(calls), len(values) - 1)]
        calls.append(value)
        return {"samples": len(answers), "name_set_f1": value, "fp_rate_on_negative": 1 - value}

    monkeypatch.setattr(finetune, "generate_answers",
                        lambda model, tokenizer, conversations, **kw: ["{}"] * len(conversations))
    monkeypatch.setattr(finetune, "extraction_metrics", fake_metrics)
    return calls


def metrics_of(run_dir):
    return json.loads((run_dir / "train_metrics.json").read_text())


def test_keep_best_keeps_the_adapter_of_the_best_f1_not_of_the_lowest_loss(tiny_model_dirs, tiny_data, tmp_path,
                                                                           monkeypatch, capsys):
    # The best F1 at the first evaluation, whose loss (after one step) is the highest of the run.
    scripted_generation_metrics(monkeypatch, [0.9, 0.2, 0.5, 0.1])
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=4,
                                         eval_every=1, eval_generate=1, keep="best", metric_for_best="name_set_f1"))
    metrics = metrics_of(run_dir)
    points = metrics["validation_during_training"]
    assert [p["name_set_f1"] for p in points] == [0.9, 0.2, 0.5, 0.1]
    assert min(points, key=lambda p: p["validation_loss"])["step"] != 1  # the loss alone would keep another
    assert metrics["kept"] == {"which": "best", "step": 1, "metric": "name_set_f1", "greater_is_better": True}
    assert metrics["generation_metrics"]["name_set_f1"] == 0.9  # the numbers of the saved adapter
    assert metrics["validation_loss"] == pytest.approx(points[0]["validation_loss"], abs=1e-6)
    out = capsys.readouterr().out
    assert "(best name_set_f1 0.9000 at step 1)" in out and "--keep best by name_set_f1" in out


def test_greater_is_better_false_turns_the_choice_around(tiny_model_dirs, tiny_data, tmp_path, monkeypatch):
    scripted_generation_metrics(monkeypatch, [0.2, 0.9, 0.5, 0.1])
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=4,
                                         eval_every=1, eval_generate=1, keep="best", metric_for_best="name_set_f1",
                                         greater_is_better=False))
    assert metrics_of(run_dir)["kept"] == {"which": "best", "step": 4, "metric": "name_set_f1",
                                           "greater_is_better": False}


def test_early_stopping_waits_for_the_metric_to_improve(tiny_model_dirs, tiny_data, tmp_path, monkeypatch, capsys):
    # fp_rate_on_negative = 1 - f1: lower is better, inferred; best at step 2, then two evaluations without improvement
    scripted_generation_metrics(monkeypatch, [0.5, 0.8, 0.7, 0.6, 0.9])
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=8,
                                         eval_every=1, eval_generate=1, early_stopping_patience=2,
                                         metric_for_best="fp_rate_on_negative"))
    metrics = metrics_of(run_dir)
    assert metrics["optimizer_steps"] == 4 and metrics["kept"] == {"which": "last", "step": 4}
    assert "no improvement of fp_rate_on_negative in 2 evaluations: stopping early at step 4" in capsys.readouterr().out


@pytest.mark.parametrize("overrides, message", [
    ({"metric_for_best": "name_f1"}, "--metric_for_best is 'name_f1', expected validation_loss or a generation metric: "
                                     "json_parse_rate, schema_ok_rate, person_presence_f1, name_set_f1,"),
    ({"metric_for_best": "name_set_f1"}, "--metric_for_best name_set_f1 needs --eval_generate N"),
    ({"metric_for_best": "name_set_f1", "eval_generate": 4, "validation_file": ""},
     "--metric_for_best name_set_f1 needs a --validation_file"),
])
def test_a_metric_that_cannot_be_measured_is_one_line_before_the_model_loads(tiny_model_dirs, tiny_data, tmp_path,
                                                                               monkeypatch, capsys, overrides, message):
    def never(*args, **kwargs):
        raise AssertionError("the model must not load")

    monkeypatch.setattr(finetune, "ensure_base_model", never)
    monkeypatch.setattr(finetune, "load_base_model", never)
    train, validation = tiny_data
    with pytest.raises(SystemExit) as exit_info, user_errors_as_exit_codes():
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", **overrides))
    [line] = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and line.startswith(f"error: {message}")


# ------------------------------------------------------------------------------------------------ the sweep


def results(**values):
    return [{"status": "ok", "name": name, "point": {}, **metrics} for name, metrics in values.items()]


def test_the_sweep_ranks_with_the_same_inference():
    runs = results(a={"name_set_f1": 0.3, "fp_rate_on_negative": 0.1},
                   b={"name_set_f1": 0.7, "fp_rate_on_negative": 0.4})
    assert [r["name"] for r in sweep.ranked(runs, "name_set_f1")] == ["b", "a"]
    assert [r["name"] for r in sweep.ranked(runs, "fp_rate_on_negative")] == ["a", "b"]
    assert [r["name"] for r in sweep.ranked(runs, "name_set_f1", greater_is_better=False)] == ["a", "b"]


@pytest.mark.parametrize("metric, base, message", [
    ("name_f1", {}, "--metric is 'name_f1', expected validation_loss, final_train_loss or a generation metric:"),
    ("name_set_f1", {}, "--metric name_set_f1 needs eval_generate N in the run settings"),
])
def test_the_sweep_refuses_a_metric_its_runs_do_not_measure_before_any_run(tmp_path, capsys, metric, base, message):
    sweep_file = tmp_path / "sweep.yml"
    sweep_file.write_text(yaml.safe_dump({"base": base, "points": [{}, {"use_dora": True}]}))
    with pytest.raises(SystemExit) as exit_info, user_errors_as_exit_codes():
        sweep.main(sweep.Settings(sweep_file=str(sweep_file), metric=metric, output_dir=str(tmp_path / "out")))
    assert exit_info.value.code == 2 and capsys.readouterr().err.startswith(f"error: {message}")
    assert not (tmp_path / "out").exists()


def test_sweep_points_are_one_run_each_ranked_by_a_generation_metric(tiny_model_dirs, tiny_data, tmp_path):
    """A points: sweep of two variants, ranked by name_set_f1 (measured for real on 1 sample: both runs get a
    number, which is what is checked here, not which variant wins)."""
    import csv

    train, validation = tiny_data
    sweep_file = tmp_path / "sweep.yml"
    sweep_file.write_text(yaml.safe_dump({
        "base": {"model": str(tiny_model_dirs["gemma3"]), "train_file": str(train), "validation_file": str(validation),
                 "max_steps": 2, "seed": 0, "eval_generate": 1, "report_to": "none"},
        "points": [{}, {"use_rslora": True, "lora_init": "gaussian"}]}, sort_keys=False))
    sweep_dir, outcomes = sweep.main(sweep.Settings(sweep_file=str(sweep_file), metric="name_set_f1",
                                                    output_dir=str(tmp_path / "out")))
    assert [r["status"] for r in outcomes] == ["ok", "ok"]
    rows = {row["name"]: row for row in csv.DictReader((sweep_dir / "sweep.csv").open())}
    assert set(rows) == {"01_plain", "02_rslora_init-gaussian"}
    assert rows["02_rslora_init-gaussian"]["use_rslora"] == "True" and rows["01_plain"]["use_rslora"] == ""
    assert all(row["name_set_f1"] != "" and float(row["train_seconds"]) > 0 for row in rows.values())
    assert "Ranked by name_set_f1 (higher is better)." in (sweep_dir / "sweep.md").read_text()
    config = yaml.safe_load(open(rows["02_rslora_init-gaussian"]["config"]))
    assert config["use_rslora"] is True and config["lora_init"] == "gaussian"


def test_the_lora_variants_sweep_file_is_valid():
    from ftkit import REPO_ROOT

    settings = sweep.Settings(sweep_file=str(REPO_ROOT / "src" / "configs" / "sweep_lora_variants.yml"),
                              metric="name_set_f1")
    base, grid = sweep.read_grid(settings, finetune.Settings)
    sweep.check_sweep_metric(settings, base, grid)
    points = sweep.grid_points(grid, 0, 0)
    assert len(points) == 10 and sweep.point_name(1, points[0]) == "01_plain"
    for point in points:  # every point passes the training script's own checks
        finetune.check_settings(finetune.Settings(**{**base, **sweep.flat(point)}))
