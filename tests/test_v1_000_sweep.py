"""The sweep script: runs a grid of tiny trainings, ranks them, survives a failed run, refuses bad names."""

import csv

import pytest
import yaml

import v1_000_sweep as sweep
from ftkit.errors import user_errors_as_exit_codes


def base_config(tmp_path, model_dir, train, validation):
    path = tmp_path / "base.yml"
    path.write_text(yaml.safe_dump({"model": str(model_dir), "train_file": str(train),
                                    "validation_file": str(validation),
                                    "max_steps": 3, "seed": 0}))
    return path


def test_two_by_one_sweep_is_ranked_with_table_picture_and_best_config(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    settings = sweep.Settings(grid="learning_rate=1e-4,5e-3 lora_r=8", output_dir=str(tmp_path / "out"),
                              base_config=str(base_config(tmp_path, tiny_model_dirs["gemma3"], train, validation)))
    sweep_dir, results = sweep.main(settings)
    assert [r["status"] for r in results] == ["ok", "ok"]
    rows = list(csv.DictReader((sweep_dir / "sweep.csv").open()))
    assert [row["rank"] for row in rows] == ["1", "2"]
    losses = [float(row["validation_loss"]) for row in rows]
    assert losses == sorted(losses) and rows[0]["learning_rate"] == "0.005"  # the larger step learns more in 3 steps
    assert (sweep_dir / "sweep.md").is_file() and (sweep_dir / "loss_curves.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert f"--config {rows[0]['config']}" in printed
    assert yaml.safe_load(open(rows[0]["config"]))["learning_rate"] == 0.005


def test_a_failed_run_is_reported_and_the_sweep_goes_on(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    settings = sweep.Settings(grid="max_seq_len=8,512", output_dir=str(tmp_path / "out"),
                              base_config=str(base_config(tmp_path, tiny_model_dirs["gemma3"], train, validation)))
    sweep_dir, results = sweep.main(settings)
    failed, ok = sorted(results, key=lambda r: r["status"])
    assert failed["status"] == "failed" and "no sample left to train on" in failed["error"]
    assert ok["status"] == "ok"
    table = (sweep_dir / "sweep.md").read_text()
    assert "failed" in table and "no sample left" in table


def test_unknown_setting_stops_the_sweep_before_any_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info, user_errors_as_exit_codes():
        sweep.main(sweep.Settings(grid="learning_rat=1e-4,2e-4", output_dir=str(tmp_path / "out")))
    assert exit_info.value.code == 2 and "unknown setting 'learning_rat'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_lwf_sweep_shows_forgetting_and_draws_the_tradeoff(tiny_model_dirs, tiny_data, tmp_path):
    from conftest import write_jsonl

    train, validation = tiny_data
    general = write_jsonl(tmp_path / "general.jsonl", [
        {"messages": [{"role": "user", "content": "こんにちは"}, {"role": "assistant", "content": "こんにちは、元気です"}]}])
    config = base_config(tmp_path, tiny_model_dirs["gemma3"], train, validation)
    values = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**values, "rehearsal_file": str(general), "forgetting_file": str(general),
                                      "eval_generate": 2}))
    settings = sweep.Settings(grid="distill_lambda=0,0.5",
                              script=str(sweep.REPO_ROOT / "src" / "v1_000_lora_lwf_finetune.py"),
                              metric="name_set_f1", output_dir=str(tmp_path / "out"), base_config=str(config))
    sweep_dir, results = sweep.main(settings)
    assert [r["status"] for r in results] == ["ok", "ok"]
    rows = list(csv.DictReader((sweep_dir / "sweep.csv").open()))
    for row in rows:
        assert float(row["text_forgetting"]) > -1 and 0 <= float(row["json_parse_rate"]) <= 1
    assert (sweep_dir / "tradeoff.png").stat().st_size > 10_000
