"""The LwF script (distillation and rehearsal) and the forgetting comparison end to end on tiny models, and the
general data the converter writes; LwF's loss and the data mix have tests of their own in tests/ftkit/."""

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, write_jsonl

import v1_000_compare_forgetting as compare
import v1_000_lora_lwf_finetune as lwf
from ftkit import DEFAULT_DATASET_DIR
from ftkit.data import load_samples
from ftkit.errors import user_errors_as_exit_codes


def tiny_general_file(tmp_path):
    records = [{"messages": [{"role": "user", "content": "こんにちは"}, {"role": "assistant", "content": "こんにちは、元気です"}]},
               {"messages": [{"role": "user", "content": "Hello"},
                             {"role": "assistant", "content": "Hi, how are you?"}]}]
    return write_jsonl(tmp_path / "general.jsonl", records)


def test_lwf_script_logs_task_loss_and_kl_and_saves_a_normal_run(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    general = tiny_general_file(tmp_path)
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train),
                            validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), rehearsal_file=str(general), rehearsal_ratio=0.2,
                            learning_rate=5e-3, max_steps=6, seed=0)
    run_dir = lwf.main(settings)
    assert "[data] rehearsal: 4 general samples mixed into 16 task samples" in capsys.readouterr().out
    history = json.loads((run_dir / "train_metrics.json").read_text())["history"]
    for entry in history:  # the total is the task loss plus lambda * T^2 * KL, per label token
        assert entry["loss"] == pytest.approx(entry["task_loss"] + 0.5 * entry["distill_kl"], rel=1e-5)
    assert history[0]["distill_kl"] < 1e-6 < history[-1]["distill_kl"]  # fresh adapter, then it moves
    assert (run_dir / "adapter_model.safetensors").is_file() and (run_dir / "loss_curve.png").is_file()
    assert str(general) in json.loads((run_dir / "run.json").read_text())["data_sha256"]


def test_lwf_trains_with_a_4bit_base(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train),
                            validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), rehearsal_file=str(tiny_general_file(tmp_path)),
                            learning_rate=5e-3, max_steps=4, seed=0, qlora=True)
    history = json.loads((lwf.main(settings) / "train_metrics.json").read_text())["history"]
    assert history[0]["distill_kl"] < 1e-6 < history[-1]["distill_kl"]


def test_lwf_script_rejects_a_bad_setting(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train),
                            validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), distill_temperature=0.0)
    with pytest.raises(SystemExit) as exit_info, user_errors_as_exit_codes():
        lwf.main(settings)
    assert exit_info.value.code == 2 and "--distill_temperature" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("init", ["pissa", "olora"])
def test_lwf_refuses_an_init_that_changes_the_base_its_teacher_is(tiny_model_dirs, tiny_data, tmp_path, capsys, init):
    train, validation = tiny_data
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train),
                            validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), lora_init=init)
    with pytest.raises(SystemExit) as exit_info, user_errors_as_exit_codes():
        lwf.main(settings)
    assert exit_info.value.code == 2 and f"--lora_init {init} changes the base weights" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_compare_script_trains_both_and_reports_forgetting(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    general = tiny_general_file(tmp_path)
    settings = compare.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train),
                                validation_file=str(validation), general_file=str(general), rehearsal_file=str(general),
                                output_dir=str(tmp_path / "out"), max_steps=3, eval_samples=2)
    columns, ratio, text_ratio = compare.main(settings)
    assert columns["base"]["forgetting"] == 0 and columns["base"]["text_forgetting"] == 0
    assert columns["plain LoRA"]["general_text_perplexity"] != columns["plain LoRA"]["general_perplexity"]
    assert columns["plain LoRA"]["general_perplexity"] != columns["base"]["general_perplexity"]
    assert columns["plain LoRA"]["samples"] == 2 and "name_set_f1" in columns["LwF + rehearsal"]
    folder = next((tmp_path / "out").glob("*_forgetting"))
    saved = json.loads((folder / "comparison.json").read_text())
    assert saved["forgetting_ratio_lwf_over_plain"] == pytest.approx(ratio, nan_ok=True)


def test_general_data_files_are_what_the_converter_writes(tmp_path):
    converter = REPO_ROOT / "src" / "v1_000_make_general_data.py"
    subprocess.run([sys.executable, str(converter), "--out_dir", str(tmp_path)], check=True, capture_output=True,
                   timeout=300)
    for name in ("general_rehearsal.jsonl", "general_heldout.jsonl"):
        assert (tmp_path / name).read_bytes() == (DEFAULT_DATASET_DIR / name).read_bytes(), name
    heldout = {json.dumps(s.messages, ensure_ascii=False) for s in load_samples(tmp_path / "general_heldout.jsonl")}
    rehearsal = {json.dumps(s.messages, ensure_ascii=False) for s in load_samples(tmp_path / "general_rehearsal.jsonl")}
    assert len(heldout) == 200 and not heldout & rehearsal


# ------------------------------------------------------------------------------------- where the KL acts


def test_lwf_script_records_forgetting_and_lambda_zero_trains_the_plain_loss(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    general = tiny_general_file(tmp_path)
    common = dict(model=str(tiny_model_dirs["gemma3"]), train_file=str(train), validation_file=str(validation),
                  rehearsal_file=str(general), forgetting_file=str(general), learning_rate=5e-3, max_steps=4, seed=0,
                  report_to="none")
    plain = json.loads((lwf.main(lwf.Settings(**common, output_dir=str(tmp_path / "a"), distill_lambda=0))
                        / "train_metrics.json").read_text())
    prompt = json.loads((lwf.main(lwf.Settings(**common, output_dir=str(tmp_path / "b"), distill_lambda=0.5,
                                               distill_on="prompt")) / "train_metrics.json").read_text())
    for metrics in (plain, prompt):
        forgetting = metrics["forgetting"]
        assert forgetting["conversations"] == 2
        assert forgetting["text_forgetting"] == pytest.approx(
            forgetting["text_perplexity"] / forgetting["base_text_perplexity"] - 1, rel=1e-9)
        assert forgetting["text_perplexity"] != forgetting["base_text_perplexity"]  # trained: the adapter moved
    assert prompt["forgetting"]["base_text_perplexity"] == pytest.approx(plain["forgetting"]["base_text_perplexity"],
                                                                         rel=1e-5)
    assert "distill_kl" not in plain["history"][-1] and prompt["history"][-1]["distill_kl"] > 0


def test_lwf_script_refuses_an_unknown_kl_scope(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train),
                            validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), distill_on="everything")
    with pytest.raises(SystemExit) as exit_info, user_errors_as_exit_codes():
        lwf.main(settings)
    assert exit_info.value.code == 2 and "--distill_on 'everything'" in capsys.readouterr().err
