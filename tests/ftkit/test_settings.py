"""Tests of ftkit.settings: the scripts' settings from flags (either spelling, a positional one, true and false)
and config files (flags override them), and one line naming file, line and key for each problem."""

from dataclasses import dataclass, field

import pytest
from conftest import one_error_line, stopped

import v1_000_infer as infer
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


def test_config_file_then_flags_override_it(tmp_path):
    config = tmp_path / "run.yml"
    config.write_text("learning_rate: 1e-3\nlora_r: 8\nlora_target_modules: [q_proj, v_proj]\npacking: false\n")
    settings = parse_settings(finetune.Settings, ["--config", str(config), "--lora_r", "4"])
    assert ((settings.learning_rate, settings.lora_r, settings.lora_target_modules, settings.packing)
            == (1e-3, 4, "q_proj,v_proj", False))
    assert settings.epochs == 1.0  # untouched defaults stay


@pytest.mark.parametrize("content, message", [
    ("epochs: 1\nlora_rank: 8\n", "run.yml:2: unknown setting 'lora_rank' (did you mean 'lora_r'?)"),
    ("epochs: [1, 2]\n", "run.yml:1: 'epochs' is [1, 2], expected a number"),
    ("lora_r: 8.5\n", "run.yml:1: 'lora_r' is 8.5, expected a whole number"),
    ("packing: maybe\n", "run.yml:1: 'packing' is 'maybe', expected true or false"),
    ("epochs: 1\nlora_r: [8\n", "run.yml:3: malformed YAML"),
    ("- epochs\n", "expected a mapping of settings"),
])
def test_bad_config_is_one_line_naming_file_line_and_key(tmp_path, capsys, content, message):
    config = tmp_path / "run.yml"
    config.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(finetune.Settings, ["--config", str(config)])
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and message in error and len(error.splitlines()) == 1, error


def test_the_flag_parses_true_and_false():
    from ftkit.settings import parse_settings

    assert parse_settings(finetune.Settings, ["--greater_is_better", "false"]).greater_is_better is False
    assert parse_settings(finetune.Settings, ["--greater-is-better", "true"]).greater_is_better is True
    assert parse_settings(finetune.Settings, []).greater_is_better is None


def test_prompt_is_accepted_as_positional_argument_or_flag():
    assert parse_settings(infer.Settings, ["本文です"], positional="prompt").prompt == "本文です"
    assert parse_settings(infer.Settings, ["--prompt", "本文", "--max_new_tokens", "5"],
                          positional="prompt").max_new_tokens == 5
