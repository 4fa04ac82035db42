"""The command line around a plain main(): a KitError is one line and exit status 2, a stop signal exit status 130,
and the signal handlers are the caller's again afterwards; main() itself raises, so that callers can catch."""

import os
import signal
from dataclasses import dataclass, field

import pytest
from conftest import settings_for

import v1_000_lora_finetune as finetune
from ftkit.cli import run_cli
from ftkit.errors import KitError, exit_on_user_error


@dataclass
class Settings:
    steps: int = field(default=1, metadata={"help": "how far to go"})
    prompt: str = field(default="", metadata={"help": "text, with or without --prompt"})


def test_flags_reach_main_and_its_result_comes_back():
    assert run_cli(lambda settings: settings.steps * 2, Settings, ["--steps", "21"]) == 42


def test_a_positional_value_reaches_its_field(capsys):
    assert run_cli(lambda settings: settings.prompt, Settings, ["本文"], positional="prompt") == "本文"
    assert run_cli(lambda settings: settings.prompt, Settings, ["--prompt", "本文"], positional="prompt") == "本文"


def test_a_user_error_is_one_masked_line_and_exit_status_2(capsys):
    def main(settings):
        raise KitError("cannot read https://user:hunter2@example.com/data.jsonl\nsecond line")

    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, Settings, [])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.count("\n") == 1 and error.startswith("error: cannot read ")
    assert "hunter2" not in error and "second line" in error


def test_sigterm_stops_with_130_and_the_handlers_are_the_callers_again(capsys):
    before = signal.getsignal(signal.SIGTERM)
    seen_inside = []

    def main(settings):
        seen_inside.append(signal.getsignal(signal.SIGTERM))
        os.kill(os.getpid(), signal.SIGTERM)  # delivered at once to the main thread: KeyboardInterrupt here
        raise AssertionError("SIGTERM did not stop main()")

    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, Settings, [])
    assert exit_info.value.code == 130 and capsys.readouterr().err.strip() == "interrupted (SIGTERM)"
    assert seen_inside[0] is not before and signal.getsignal(signal.SIGTERM) is before


def test_the_old_decorator_still_works_for_copied_scripts(capsys):
    @exit_on_user_error
    def main():
        raise KitError("bad flag")

    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2 and capsys.readouterr().err == "error: bad flag\n"


def test_a_scripts_main_raises_the_error_itself_and_puts_the_handlers_back(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KitError, match="--keep best needs --eval_every"):
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", keep="best"))
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_during_a_direct_call_of_the_training_main_cleans_up_like_ctrl_c(tiny_model_dirs, tiny_data, tmp_path,
                                                                                  monkeypatch):
    """A notebook or a driver of one's own calls main() without run_cli: a SIGTERM still stops the run cleanly."""
    import ftkit.trainer

    real_step = ftkit.trainer.accumulate_gradients

    def killed_at_step_2(*args, **kwargs):
        if killed_at_step_2.calls == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        killed_at_step_2.calls += 1
        return real_step(*args, **kwargs)

    killed_at_step_2.calls = 0
    monkeypatch.setattr(ftkit.trainer, "accumulate_gradients", killed_at_step_2)
    train, validation = tiny_data
    before = signal.getsignal(signal.SIGTERM)
    output = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=5))
    assert signal.getsignal(signal.SIGTERM) is before
    assert list(output.iterdir()) == []  # no checkpoint asked for: nothing that looks like a result is left
