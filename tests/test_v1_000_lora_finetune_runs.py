"""Reproducible runs: YAML configs, validation while training, keeping the best adapter, opt-in resume."""

import json
from pathlib import Path

import pytest
import yaml
import torch
from conftest import REPO_ROOT, build_tiny_model, build_tokenizer, settings_for
from safetensors.torch import load_file

import ftkit.trainer
import v1_000_lora_finetune as finetune
from ftkit.settings import parse_settings
from ftkit.errors import user_errors_as_exit_codes

CONFIGS = REPO_ROOT / "src" / "configs"


def metrics_of(run_dir):
    return json.loads((Path(run_dir) / "train_metrics.json").read_text())


def adapter_of(run_dir):
    return load_file(str(Path(run_dir) / "adapter_model.safetensors"))


# ---------------------------------------------------------------------------------------------- configs


RUN_CONFIGS = sorted(path for path in CONFIGS.glob("*.yml") if not path.name.startswith("sweep_"))


@pytest.mark.parametrize("config", RUN_CONFIGS, ids=lambda path: path.name)
def test_shipped_configs_parse(config):
    settings = parse_settings(finetune.Settings, ["--config", str(config)])
    assert settings.run_name and settings.lora_r == 16


def test_shipped_sweep_file_is_a_valid_grid():
    import v1_000_sweep as sweep

    settings = sweep.Settings(sweep_file=str(CONFIGS / "sweep_lr_rank.yml"))
    base, grid = sweep.read_grid(settings, finetune.Settings)
    assert grid == {"learning_rate": [5e-5, 1e-4, 2e-4], "lora_r": [16, 32]} and base["eval_every"] == 20
    assert len(sweep.grid_points(grid, 0, 0)) == 6 and len(sweep.grid_points(grid, 4, 0)) == 4


def test_saved_config_repeats_the_run_exactly(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    first = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=5))
    again = finetune.main(parse_settings(finetune.Settings, ["--config", str(first / "config.yml")]))
    assert again != first
    # --precision auto is recorded as the dtype it chose, so the re-run cannot pick the other one.
    recorded = yaml.safe_load((first / "config.yml").read_text())["precision"]
    assert recorded in ("bf16", "fp32")
    assert json.loads((first / "run.json").read_text())["settings"]["precision"] == recorded
    # Same machine, same dtype, same order: the same arithmetic, so equal to float32 rounding of the loss.
    assert metrics_of(again)["final_train_loss"] == pytest.approx(metrics_of(first)["final_train_loss"], rel=1e-6)


def test_qwen3_moe_config_runs_two_steps_on_a_tiny_model(tiny_data, tmp_path):
    tokenizer = build_tokenizer()
    # transformers' defaults for these three, as this test's model has always had them
    model = build_tiny_model("qwen3_moe", tokenizer, max_position_embeddings=32768, tie_word_embeddings=False,
                             initializer_range=0.02)
    model_dir = tmp_path / "tiny-qwen3-moe"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    train, validation = tiny_data
    settings = parse_settings(finetune.Settings, [
        "--config", str(CONFIGS / "qwen3_moe_extraction.yml"), "--model", str(model_dir), "--train_file", str(train),
        "--validation_file", str(validation), "--output_dir", str(tmp_path / "out"), "--max_steps", "2",
        "--eval_every", "1", "--eval_generate", "0"])
    run_dir = finetune.main(settings)
    adapter = adapter_of(run_dir)
    assert any("experts" in name for name in adapter), "the expert projections carry LoRA weights"
    assert any("q_proj" in name for name in adapter)
    assert metrics_of(run_dir)["optimizer_steps"] == 2


# ------------------------------------------------------------------------------ validation while training


def test_validation_every_n_steps_with_generation_metrics(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out",
                                         max_steps=6, eval_every=2, eval_generate=2))
    points = metrics_of(run_dir)["validation_during_training"]
    assert [p["step"] for p in points] == [2, 4, 6]
    assert all(p["validation_loss"] > 0 and p["samples"] == 2 and "name_set_f1" in p for p in points)
    assert points[-1]["validation_loss"] < points[0]["validation_loss"]


def test_early_stopping_and_keep_best(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    # A learning rate far too high makes the validation loss worse after a good first step.
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=30,
                                         learning_rate=0.5, warmup_ratio=0.0, eval_every=1, early_stopping_patience=3,
                                         keep="best"))
    metrics = metrics_of(run_dir)
    points = metrics["validation_during_training"]
    best = min(points, key=lambda p: p["validation_loss"])
    assert metrics["optimizer_steps"] < 30 and "stopping early" in capsys.readouterr().out
    assert metrics["optimizer_steps"] == best["step"] + 3  # three evaluations without improvement
    assert metrics["kept"] == {"which": "best", "step": best["step"], "metric": "validation_loss",
                               "greater_is_better": False}
    assert metrics["validation_loss"] == pytest.approx(best["validation_loss"],
                                                       abs=1e-6)  # the saved adapter is the best


def test_keep_best_needs_validation_steps(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    with pytest.raises(SystemExit), user_errors_as_exit_codes():
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", keep="best"))
    assert "--keep best needs --eval_every" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ resume


def test_killed_run_resumes_to_the_same_result(tiny_model_dirs, tiny_data, tmp_path, monkeypatch, capsys):
    train, validation = tiny_data
    common = dict(max_steps=8, eval_every=3)
    reference = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "reference",
                                           **common))

    calls = {"count": 0}
    real_step = ftkit.trainer.accumulate_gradients

    def killed_at_step_6(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == 6:
            raise KeyboardInterrupt  # what Ctrl-C or a runtime disconnect looks like to Python
        return real_step(*args, **kwargs)

    monkeypatch.setattr(ftkit.trainer, "accumulate_gradients", killed_at_step_6)
    output = tmp_path / "interrupted"
    with pytest.raises(SystemExit) as exit_info, user_errors_as_exit_codes():
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, save_every=2, **common))
    assert exit_info.value.code == 130
    unfinished = next(output.glob(".incomplete-*"))
    assert (unfinished / "checkpoint.pt").is_file() and not (unfinished / "adapter_model.safetensors").exists()
    assert "--resume" in capsys.readouterr().out

    monkeypatch.setattr(ftkit.trainer, "accumulate_gradients", real_step)
    resumed = finetune.main(parse_settings(finetune.Settings, ["--resume", str(unfinished)]))
    assert "[resume] continuing at step 5 of 8" in capsys.readouterr().out
    assert not (resumed / "checkpoint.pt").exists() and not unfinished.exists()
    expected, got = metrics_of(reference), metrics_of(resumed)
    assert got["final_train_loss"] == pytest.approx(expected["final_train_loss"], abs=1e-5)
    assert [p["step"] for p in got["validation_during_training"]] == [3, 6]
    for name, weight in adapter_of(reference).items():
        assert torch.allclose(adapter_of(resumed)[name], weight, atol=1e-5), name


def test_checkpoint_is_replaced_whole(tiny_model_dirs, tiny_data, tmp_path, monkeypatch):
    """The checkpoint is written beside the old one and renamed over it: never a half-written file in place."""
    import os

    renames = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda source, target: (renames.append((Path(source).name, Path(target).name)),
                                                               real_replace(source, target)))
    train, validation = tiny_data
    finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=5,
                               save_every=2))
    assert (("checkpoint.pt.tmp", "checkpoint.pt") in renames
            and renames.count(("checkpoint.pt.tmp", "checkpoint.pt")) == 2)
    assert not list((tmp_path / "out").glob("*/checkpoint.pt*"))
