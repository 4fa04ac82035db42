"""Tests of ftkit.settings: the scripts' settings from flags and config files, and one line for each problem."""

from dataclasses import dataclass, field

import pytest
from conftest import one_error_line, stopped

import v1_000_lora_finetune as finetune
from ftkit.settings import parse_settings


@dataclass
class Settings:
    learning_rate: float = field(default=5e-4, metadata={"help": "peak learning rate"})
    max_train_samples: int = field(default=0, metadata={"help": "first N records"})


def test_flags_in_either_spelling_override_the_defaults():
    settings = parse_settings(Settings, ["--learning-rate", "1e-3", "--max_train_samples=7"])
    assert settings.learning_rate == pytest.approx(1e-3, rel=1e-12) and settings.max_train_samples == 7


@pytest.mark.parametrize("args", [["--learning_rat", "1"], ["--bogus", "1"]])
def test_an_unknown_or_shortened_flag_is_one_line_with_the_nearest_name(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(Settings, args)
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(error.splitlines()) == 1 and "Traceback" not in error
    assert error.startswith(f"error: unknown option {args[0]}")
    if args[0] == "--learning_rat":  # never taken silently as --learning_rate
        assert "did you mean --learning_rate?" in error


def test_non_utf8_config_file_names_its_line(tmp_path, capsys):
    from ftkit.settings import parse_settings

    config = tmp_path / "run.yml"
    config.write_bytes(b"lora_r: 8\nrun_name: caf\xe9\n")
    code, err, _ = stopped(lambda: parse_settings(finetune.Settings, ["--config", str(config)]), capsys)
    assert code == 2 and one_error_line(err).startswith(f"error: {config}:2: not UTF-8 text")
