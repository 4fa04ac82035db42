"""Tests of the training script end to end on tiny random models (seconds each); its plumbing has tests of its own
in tests/ftkit/."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import (REPO_ROOT, TINY_RECORDS, build_tokenizer, encoded_records, fail_at_step, quiet, settings_for,
                      tiny_lora_model, write_jsonl)

import v1_000_lora_finetune as finetune
from ftkit.formatting import ensure_chat_template
from ftkit.modeling import load_tokenizer
from ftkit.errors import user_errors_as_exit_codes


# ----------------------------------------------------------------------------------------- whole script


@pytest.mark.parametrize("architecture", ["gemma3", "llama"])
def test_script_trains_saves_and_the_adapter_changes_outputs(tiny_model_dirs, tiny_data, tmp_path, architecture):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    train, validation = tiny_data
    model_dir = tiny_model_dirs[architecture]
    run_dir = finetune.main(settings_for(model_dir, train, validation, tmp_path / "out", max_steps=6))
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "run.json",
                 "train_metrics.json", "loss_curve.png"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    assert metrics["optimizer_steps"] == 6 and metrics["validation_loss"] > 0
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]
    saved = json.loads((run_dir / "run.json").read_text())
    assert saved["settings"]["max_steps"] == 6 and str(train) in saved["data_sha256"]

    # Plain peft loads it, and it changes the model's output.
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    inputs = torch.tensor([[2, 10, 20, 30, 40]])
    with torch.no_grad():
        base_logits = base(inputs).logits
        adapted = PeftModel.from_pretrained(base, run_dir)
        adapted_logits = adapted(inputs).logits
    assert (adapted_logits - base_logits).abs().max() > 1e-3


def test_runs_never_overwrite_each_other(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    first = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, "", tmp_path / "out", max_steps=1))
    second = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, "", tmp_path / "out", max_steps=1))
    assert first != second and first.is_dir() and second.is_dir()


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_interrupted_or_failed_run_leaves_no_complete_looking_folder(tiny_model_dirs, tiny_data, tmp_path, monkeypatch,
                                                                     failure):
    train, validation = tiny_data
    calls = fail_at_step(monkeypatch, 3, failure)
    output = tmp_path / "out"
    with pytest.raises((SystemExit, RuntimeError)), user_errors_as_exit_codes():
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=5))
    assert calls["n"] == 3
    assert list(output.iterdir()) == []


def test_killed_run_cleans_up_its_folder(tiny_model_dirs, tiny_data, tmp_path):
    """SIGTERM (plain `kill`) mid-training: the script stops cleanly and removes its unfinished folder."""
    import signal
    import time

    train, _ = tiny_data
    output = tmp_path / "out"
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "src" / "v1_000_lora_finetune.py"), "--model",
                                str(tiny_model_dirs["gemma3"]), "--train_file", str(train), "--validation_file", "",
                                "--output_dir", str(output), "--max_steps", "100000", "--report_to", "none"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    # Wait for the run folder itself: on a loaded machine the poll can also catch the short-lived write probe
    # of the output folder check (.write-test-*), which is not what this test is about.
    in_progress = lambda: ([p.name for p in output.iterdir() if not p.name.startswith(".write-test-")]
                           if output.is_dir() else [])
    while not in_progress() and time.time() < deadline:
        time.sleep(0.2)
    assert [name.startswith(".incomplete-") for name in in_progress()] == [True]
    time.sleep(1.0)  # inside the training loop
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert list(output.iterdir()) == []


def test_qlora_trains_on_the_cpu(tiny_model_dirs, tiny_data, tmp_path):
    import bitsandbytes as bnb

    model = tiny_lora_model(tiny_model_dirs["gemma3"], qlora=True)
    assert any(isinstance(module, bnb.nn.Linear4bit) for module in model.modules())
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=4,
                                         qlora=True))
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]


# -------------------------------------------------------------------------------------------- bad input


def run_script(*args):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "src" / "v1_000_lora_finetune.py"), *args],
                            capture_output=True, text=True, timeout=300)
    return result.returncode, result.stderr.strip()


def test_bad_line_is_reported_with_file_and_line_number_and_no_traceback(tiny_model_dirs, tmp_path):
    data = tmp_path / "bad.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in TINY_RECORDS]
    lines.insert(2, '{"messages": [')
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, stderr = run_script("--model", str(tiny_model_dirs["gemma3"]), "--train_file", str(data),
                              "--output_dir", str(tmp_path / "out"))
    assert code == 2
    last_line = stderr.splitlines()[-1]
    assert last_line.startswith("error: ") and f"{data}:3: malformed JSON line" in last_line
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_data_file_and_missing_model_are_clear_errors(tmp_path):
    code, stderr = run_script("--train_file", str(tmp_path / "nope.jsonl"), "--model", str(tmp_path / "my-model"))
    assert code == 2 and stderr.splitlines()[-1].startswith(f"error: --model {tmp_path / 'my-model'}: "
                                                            "not a model directory")
    assert "Traceback" not in stderr


def test_samples_over_max_length_are_counted_in_the_report(tiny_model_dirs, tmp_path, capsys):
    long_record = json.loads(json.dumps(TINY_RECORDS[0]))
    long_record["messages"][1]["content"] *= 20
    train = write_jsonl(tmp_path / "train.jsonl", TINY_RECORDS + [long_record, long_record])
    limit = max(len(e.input_ids) for e in encoded_records(load_tokenizer(tiny_model_dirs["gemma3"])))
    finetune.main(settings_for(tiny_model_dirs["gemma3"], train, "", tmp_path / "out", max_steps=1, max_seq_len=limit))
    assert f"2 samples were longer than --max_seq_len {limit} and were skipped" in capsys.readouterr().out


def test_max_train_samples_keeps_the_first_records_only(tiny_model_dirs, tmp_path):
    tokenizer = build_tokenizer()
    ensure_chat_template(tokenizer, log=quiet)
    train = write_jsonl(tmp_path / "train.jsonl", TINY_RECORDS * 4)
    validation = write_jsonl(tmp_path / "validation.jsonl", TINY_RECORDS)
    every = finetune.prepare_data(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path), tokenizer)
    first = finetune.prepare_data(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path,
                                               max_train_samples=3), tokenizer)
    assert (every.train_samples, first.train_samples) == (16, 3)
    rows = [item for batch in first.train_batches for row in batch for item in row]
    assert sorted(item.input_ids for item in rows) == sorted(item.input_ids for item in encoded_records(tokenizer)[:3])
