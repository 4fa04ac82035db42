"""--report_to wandb: what a run sends to Weights & Biases, read back from the offline run's own files.

W&B runs offline here (WANDB_MODE=offline, every W&B folder under tmp_path). The run's `.wandb` file is the
record log W&B syncs later; it is read with W&B's own protobuf messages (`wandb.proto.wandb_internal_pb2`) from
its LevelDB-style log framing, which wandb 0.31 no longer ships a Python reader for.
"""

import json
import struct

import pytest
from conftest import fail_at_step, settings_for

import v1_000_lora_finetune as finetune
from ftkit.errors import KitError
from ftkit.errors import user_errors_as_exit_codes

wandb = pytest.importorskip("wandb")  # in requirements.txt; an optional extra of the kit


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    """W&B offline, its folders (runs, settings, cache) under tmp_path; returns where the runs go."""
    for name, folder in (("WANDB_DIR", "wandb-dir"), ("WANDB_CONFIG_DIR", "wandb-config"),
                         ("WANDB_CACHE_DIR", "wandb-cache"), ("WANDB_DATA_DIR", "wandb-data")):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(name, str(tmp_path / folder))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return tmp_path / "wandb-dir"


def read_records(wandb_file):
    """Every record of a .wandb file: a 7-byte file header, then 32 KiB blocks of chunks (crc32, length, type:
    1 full, 2 first, 3 middle, 4 last), each record a wandb_internal_pb2.Record."""
    from wandb.proto import wandb_internal_pb2

    data = wandb_file.read_bytes()
    assert data[:4] == b":W&B"
    block, position, pending, records = 32768, 7, b"", []
    while position + 7 <= len(data):
        left = block - position % block
        if left < 7:  # the tail of a block too short for a chunk header is padding
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if length == 0 and kind == 0:
            position += left
            continue
        chunk = data[position + 7 : position + 7 + length]
        position += 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def item_key(item) -> str:
    return item.key or "/".join(item.nested_key)


def offline_run(wandb_dir):
    """(config, history rows, summary, exit code, files folder) of the one offline run under `wandb_dir`."""
    [run_dir] = (wandb_dir / "wandb").glob("offline-run-*")
    [wandb_file] = run_dir.glob("run-*.wandb")
    config, history, summary, exit_code = {}, [], {}, None
    for record in read_records(wandb_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            config.update({item_key(item): json.loads(item.value_json) for item in record.run.config.update})
        elif kind == "config":
            config.update({item_key(item): json.loads(item.value_json) for item in record.config.update})
        elif kind == "history":
            history.append({item_key(item): json.loads(item.value_json) for item in record.history.item})
        elif kind == "summary":
            summary.update({item_key(item): json.loads(item.value_json) for item in record.summary.update})
        elif kind == "exit":
            exit_code = record.exit.exit_code
    return config, history, summary, exit_code, run_dir / "files"


def series(history, key):
    return [(row["optimizer_step"], row[key]) for row in history if key in row]


def test_a_run_is_recorded_in_an_offline_wandb_run(tiny_model_dirs, tiny_data, tmp_path, offline_wandb, monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", "sekrit-value-123")  # a secret in a setting (here a path) is masked
    train, validation = tiny_data
    secret_folder = tmp_path / "sekrit-value-123"
    secret_folder.mkdir()
    train = train.rename(secret_folder / "train.jsonl")
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=4,
                                         eval_every=2, eval_generate=1, report_to="wandb"))
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    config, history, summary, exit_code, files = offline_run(offline_wandb)

    assert config["learning_rate"] == 0.005 and config["lora_r"] == 16 and config["report_to"] == "wandb"
    assert "sekrit-value-123" not in config["train_file"] and "***" in config["train_file"]
    steps = [h["step"] for h in metrics["history"]]
    assert series(history, "loss") == pytest.approx([(h["step"], h["loss"]) for h in metrics["history"]])
    assert series(history, "learning_rate") == pytest.approx([(h["step"], h["learning_rate"])
                                                              for h in metrics["history"]])
    assert [step for step, _ in series(history, "grad_norm")] == steps
    assert [step for step, _ in series(history, "tokens_per_second")] == [*steps, steps[-1]]  # and the run's overall
    # validation and generation metrics by step (sent after training, at their own steps)
    assert series(history, "validation_loss") == pytest.approx(
        [(p["step"], p["validation_loss"]) for p in metrics["validation_during_training"]])
    assert [step for step, _ in series(history, "json_parse_rate")] == [2, 4]
    assert summary["final_validation_loss"] == pytest.approx(metrics["validation_loss"])
    assert summary["final_train_loss"] == pytest.approx(metrics["final_train_loss"])
    assert summary["generation_json_parse_rate"] == pytest.approx(metrics["generation_metrics"]["json_parse_rate"])
    [image] = [{key.split("/", 1)[1]: value for key, value in row.items() if key.startswith("loss_curve/")}
               for row in history if "loss_curve/_type" in row]  # W&B flattens the image's fields
    assert image["_type"] == "image-file" and (files / image["path"]).is_file()
    assert (files / "config.yml").read_text() == (run_dir / "config.yml").read_text()
    assert json.loads((files / "train_metrics.json").read_text()) == metrics
    assert exit_code == 0 and summary["status"] == "FINISHED"


@pytest.mark.parametrize("failure, exit_code, status", [(RuntimeError, 1, "FAILED"),
                                                        (KeyboardInterrupt, 130, "KILLED")])
def test_a_failed_or_interrupted_run_gets_its_exit_code(tiny_model_dirs, tiny_data, tmp_path, offline_wandb,
                                                        monkeypatch,
                                                        failure, exit_code, status):
    monkeypatch.delenv("WANDB_DIR")  # by default the runs go under <output_dir>/wandb, beside mlruns
    train, validation = tiny_data
    fail_at_step(monkeypatch, 2, failure)
    output = tmp_path / "out"
    with pytest.raises((RuntimeError, KeyboardInterrupt, SystemExit)), user_errors_as_exit_codes():
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=4,
                                   report_to="wandb"))
    _, history, summary, code, _ = offline_run(output)
    assert code == exit_code and summary["status"] == status
    assert [step for step, _ in series(history, "loss")] == [1]  # the step before the failure
    assert sorted(p.name for p in output.iterdir()) == ["wandb"]  # no run folder, finished or not


def test_a_wandb_that_fails_does_not_fail_the_run(tiny_model_dirs, tiny_data, tmp_path, offline_wandb, monkeypatch,
                                                  capsys):
    from wandb.sdk.wandb_run import Run

    def gone(*args, **kwargs):
        raise ConnectionError("W&B unreachable")

    monkeypatch.setattr(Run, "log", gone)
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=2,
                                         report_to="wandb"))
    assert (run_dir / "adapter_model.safetensors").is_file()
    errors = capsys.readouterr().err
    assert errors.count("[tracking] WandbTracker failed, no more tracking in this run: W&B unreachable") == 1
    *_, exit_code, _ = offline_run(offline_wandb)
    assert exit_code == 0  # still closed, so W&B holds no run that looks alive


def test_a_wandb_that_cannot_start_leaves_the_run_untracked(tiny_model_dirs, tiny_data, tmp_path, offline_wandb,
                                                            monkeypatch, capsys):
    def no_login(*args, **kwargs):
        raise wandb.errors.UsageError("api_key not configured (no-tty). call wandb.login(key=[your_api_key])")

    monkeypatch.setattr(wandb, "init", no_login)
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=1,
                                         report_to="wandb"))
    assert (run_dir / "adapter_model.safetensors").is_file()
    [line] = [line for line in capsys.readouterr().err.splitlines() if "[tracking]" in line]
    assert line.startswith("[tracking] could not start wandb at W&B project 'lora' (offline), "
                           "this run is not tracked: ")


def test_report_to_wandb_without_the_package_is_one_line_before_anything_loads(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "wandb" else real(name, *args))
    with pytest.raises(KitError, match=r"^--report_to wandb needs the wandb package: pip install wandb$"):
        finetune.check_settings(finetune.Settings(report_to="wandb"))
