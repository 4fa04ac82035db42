"""Tests of the CPU inference script on a tiny model and adapter."""

import io
import subprocess
import sys
from pathlib import Path

import pytest

import v1_000_infer as infer
import v1_000_lora_finetune as finetune
from ftkit.errors import user_errors_as_exit_codes


@pytest.fixture
def tiny_run(tiny_model_dirs, tiny_data, tmp_path):
    train, _ = tiny_data
    output = tmp_path / "out"
    finetune.main(finetune.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train), validation_file="",
                                    output_dir=str(output), max_steps=2))
    return tiny_model_dirs["gemma3"], output


def test_answer_is_streamed_and_returned_with_newest_adapter(tiny_run, capsys):
    model_dir, output = tiny_run
    answer = infer.main(infer.Settings(prompt="山田太郎さんが来た。", model=str(model_dir), output_dir=str(output),
                                       max_new_tokens=6))
    captured = capsys.readouterr()
    assert isinstance(answer, str) and answer.strip() in captured.out
    assert "adapter" in captured.err and str(output) in captured.err


def test_the_command_line_takes_the_prompt_without_its_flag(tiny_run):
    model_dir, output = tiny_run
    script = Path(infer.__file__)
    result = subprocess.run([sys.executable, str(script), "--model", str(model_dir), "--output_dir", str(output),
                             "--max_new_tokens", "4", "山田太郎さんが来た。"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "adapter" in result.stderr and str(output) in result.stderr


def test_prompt_from_stdin(tiny_run, monkeypatch, capsys):
    model_dir, output = tiny_run
    monkeypatch.setattr(sys, "stdin", io.StringIO("大阪市の田中花子さん"))
    infer.main(infer.Settings(prompt="-", model=str(model_dir), output_dir=str(output), max_new_tokens=4,
                              no_adapter=True))
    assert "base model only" in capsys.readouterr().err


def test_missing_adapter_says_how_to_make_one(tiny_model_dirs, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped, user_errors_as_exit_codes():
        infer.main(infer.Settings(prompt="本文", model=str(tiny_model_dirs["gemma3"]), output_dir=str(tmp_path / "none")))
    assert stopped.value.code == 2
    assert "no finished run under" in capsys.readouterr().err
    with pytest.raises(SystemExit), user_errors_as_exit_codes():
        infer.main(infer.Settings(prompt="本文", model=str(tiny_model_dirs["gemma3"]), adapter=str(tmp_path)))
    assert "python src/v1_000_lora_finetune.py" in capsys.readouterr().err
