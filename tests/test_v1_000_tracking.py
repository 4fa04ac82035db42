"""Experiment tracking (--report_to): what a run sends to MLflow or TensorBoard, read back from their stores."""

import json

import pytest
from conftest import fail_at_step, mlflow_client, settings_for

import v1_000_lora_finetune as finetune
from ftkit.errors import user_errors_as_exit_codes

pytest.importorskip("mlflow")  # in requirements.txt; the kit itself runs without it (--report_to auto -> none)


def test_default_run_is_recorded_in_a_local_mlflow_store(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    output = tmp_path / "out"
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=4,
                                         eval_every=2, eval_generate=1, report_to="auto"))  # the default
    metrics = json.loads((run_dir / "train_metrics.json").read_text())

    client = mlflow_client(output)
    experiment = client.get_experiment_by_name("lora")  # the experiment is the --run_name
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    assert run.data.params["learning_rate"] == "0.005" and run.data.params["lora_r"] == "16"

    losses = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in losses] == pytest.approx([(h["step"], h["loss"]) for h in metrics["history"]])
    learning_rates = [m.value for m in client.get_metric_history(run.info.run_id, "learning_rate")]
    assert learning_rates == pytest.approx([h["learning_rate"] for h in metrics["history"]])
    validation_losses = client.get_metric_history(run.info.run_id, "validation_loss")
    assert [m.step for m in validation_losses] == [2, 4]
    assert run.data.metrics["final_validation_loss"] == pytest.approx(metrics["validation_loss"])
    assert run.data.metrics["final_train_loss"] == pytest.approx(metrics["final_train_loss"])
    assert (run.data.metrics["generation_json_parse_rate"]
            == pytest.approx(metrics["generation_metrics"]["json_parse_rate"]))
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"loss_curve.png", "config.yml", "train_metrics.json"} <= artifacts


def test_failed_run_is_marked_failed_and_leaves_no_run_folder(tiny_model_dirs, tiny_data, tmp_path, monkeypatch):
    train, validation = tiny_data
    fail_at_step(monkeypatch, 2)
    output = tmp_path / "out"
    with pytest.raises(RuntimeError):
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=4,
                                   report_to="mlflow"))
    client = mlflow_client(output)
    [run] = client.search_runs([client.get_experiment_by_name("lora").experiment_id])
    assert run.info.status == "FAILED"
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 1  # the step before the failure
    assert sorted(p.name for p in output.iterdir()) == ["mlruns"]  # no run folder, finished or not


def test_tensorboard_events_hold_the_per_step_loss(tiny_model_dirs, tiny_data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train, validation = tiny_data
    output = tmp_path / "out"
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=3,
                                         report_to="tensorboard"))
    history = json.loads((run_dir / "train_metrics.json").read_text())["history"]
    events = EventAccumulator(str(output / "tensorboard" / "lora" / run_dir.name), size_guidance={"images": 0}).Reload()
    scalars = events.Scalars("loss")
    assert [e.step for e in scalars] == [h["step"] for h in history]
    assert [e.value for e in scalars] == pytest.approx([h["loss"] for h in history], rel=1e-6)
    assert "loss_curve" in events.Tags()["images"]
    assert not (output / "mlruns").exists()


def test_report_to_none_writes_no_store_and_a_wrong_value_is_refused(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    output = tmp_path / "out"
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=1,
                                         report_to="none"))
    assert [p.name for p in output.iterdir()] == [run_dir.name]
    with pytest.raises(SystemExit), user_errors_as_exit_codes():
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, report_to="comet"))
    assert "--report_to is 'comet', expected one of: auto, none, mlflow, tensorboard, wandb" in capsys.readouterr().err


def test_a_tracker_that_fails_does_not_fail_the_run(tiny_model_dirs, tiny_data, tmp_path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    def server_gone(*args, **kwargs):
        raise ConnectionError("tracking server unreachable")

    monkeypatch.setattr(MlflowClient, "log_batch", server_gone)
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=2,
                                         report_to="mlflow"))
    assert (run_dir / "adapter_model.safetensors").is_file()
    errors = capsys.readouterr().err
    assert errors.count("[tracking] MlflowTracker failed, no more tracking in this run: "
                        "tracking server unreachable") == 1
