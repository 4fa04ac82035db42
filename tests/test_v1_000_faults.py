"""Faults and hostile files: nothing in a file executes, no secret leaks, no trained adapter is thrown away.

One fault-injection test per case of docs/faults.md. Each asserts the exit status (2 for what the user can
fix, 130 for a signal), the one-line message, and what is left on disk. Tiny models from conftest, seconds each.
The cases one helper module settles alone (masking secrets, atomic writes, the newest run, what an upload sends,
UTF-8 and JSON Lines decoding, the notebook's resume) are tested beside that module, in tests/ftkit/.
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import (REPO_ROOT, TINY_RECORDS, FakeHub, chat_record, encoded_records, make_perturbed_adapter,
                      mlflow_client, one_error_line, settings_for, stopped, write_jsonl)

import ftkit
import v1_000_infer as infer
import v1_000_lora_finetune as finetune
from ftkit.errors import KitError
from ftkit.runs import UNFINISHED_FILE, RunFolder, finished_runs, resolve_adapter

SCRIPT = REPO_ROOT / "src" / "v1_000_lora_finetune.py"


def files_under(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def no_model_load(monkeypatch):
    """Fails the test if the script gets as far as loading the base model."""
    def must_not_load(*args, **kwargs):
        raise AssertionError("the base model was loaded before the error was found")

    monkeypatch.setattr(finetune, "ensure_base_model", must_not_load)


def unfinished_run_folder(tmp_path, tiny_model_dirs, tiny_data) -> Path:
    """An unfinished run folder with the config.yml --resume reads (as `--save_every` leaves it)."""
    train, validation = tiny_data
    folder = tmp_path / "out" / ".incomplete-20260101-000000_lora"
    folder.mkdir(parents=True)
    (folder / "config.yml").write_text(
        f"model: {tiny_model_dirs['gemma3']}\ntrain_file: {train}\nvalidation_file: ''\nmax_steps: 4\nsave_every: 1\n"
        "report_to: none\n", encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------------------------- security


class RunsAShellCommand:
    """A pickle that runs `touch <marker>` when unpickled with weights_only=False (what torch.load did)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_crafted_checkpoint_runs_nothing_on_resume(tiny_model_dirs, tiny_data, tmp_path, capsys, no_model_load):
    folder = unfinished_run_folder(tmp_path, tiny_model_dirs, tiny_data)
    marker = tmp_path / "code-ran"
    torch.save({"step": 1, "payload": RunsAShellCommand(marker)}, folder / "checkpoint.pt")
    torch.load(folder / "checkpoint.pt", weights_only=False)  # control: the old way runs the command ...
    assert marker.exists()
    marker.unlink()  # ... and the kit's way must not
    before = files_under(tmp_path / "out")

    code, err, out = stopped(lambda: finetune.main(finetune.Settings(resume=str(folder))), capsys)
    line = one_error_line(err)
    assert code == 2 and "checkpoint.pt: not a readable checkpoint of the kit" in line and "refused, not run" in line
    assert "cannot be resumed" in line and "--resume" not in out + line
    assert not marker.exists()  # weights_only=True: the object was never built
    assert files_under(tmp_path / "out") == before  # the folder is left as it was, nothing new beside it


def test_truncated_checkpoint_is_one_line_and_not_offered_again(tiny_model_dirs, tiny_data, tmp_path, capsys,
                                                                 no_model_load):
    folder = unfinished_run_folder(tmp_path, tiny_model_dirs, tiny_data)
    torch.save({"step": 1, "adapter": {"w": torch.zeros(1000)}}, folder / "checkpoint.pt")
    (folder / "checkpoint.pt").write_bytes((folder / "checkpoint.pt").read_bytes()[:300])  # a kill mid-copy
    before = files_under(tmp_path / "out")

    code, err, out = stopped(lambda: finetune.main(finetune.Settings(resume=str(folder))), capsys)
    line = one_error_line(err)
    assert code == 2 and "truncated or damaged" in line and "cannot be resumed, start a new one" in line
    assert "--resume" not in out + line
    assert files_under(tmp_path / "out") == before


def test_password_in_tracking_uri_is_never_printed_or_written(tiny_model_dirs, tiny_data, tmp_path, monkeypatch, capfd):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:secret@127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    train, validation = tiny_data
    output = tmp_path / "out"
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=1,
                                         report_to="mlflow"))
    captured = capfd.readouterr()
    assert "secret" not in captured.out + captured.err
    [line] = [line for line in captured.err.splitlines() if line.startswith("[tracking]")]
    assert line.startswith("[tracking] could not start mlflow at http://user:***@127.0.0.1:9, this run is not tracked")
    assert (run_dir / "adapter_model.safetensors").is_file()  # tracking did not decide the run's fate
    assert not any(b"secret" in data for data in files_under(output).values())


def test_tracking_store_that_is_a_file_does_not_decide_the_run(tiny_model_dirs, tiny_data, tmp_path, capfd):
    pytest.importorskip("mlflow")
    train, validation = tiny_data
    output = tmp_path / "out"
    output.mkdir()
    (output / "mlruns").write_text("not a folder")
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=1,
                                         report_to="mlflow"))
    err = capfd.readouterr().err
    assert [line for line in err.splitlines()
            if line.startswith("[tracking]")][0].startswith("[tracking] could not start mlflow")
    assert "Traceback" not in err and (run_dir / "adapter_model.safetensors").is_file()
    assert (output / "mlruns").read_text() == "not a folder"


@pytest.mark.parametrize("recorded", ["{elsewhere}/gemma-3-270m", "../../{name}/gemma-3-270m",
                                      "{elsewhere}/smollm2-135m-instruct"])
def test_adapter_config_never_chooses_where_the_kit_writes(tiny_model_dirs, tmp_path, capsys, recorded):
    adapter = make_perturbed_adapter(tiny_model_dirs["gemma3"], tmp_path / "foreign-adapter")
    elsewhere = tmp_path / "elsewhere"
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = recorded.format(elsewhere=elsewhere, name=f"evil-{tmp_path.name}")
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    models_before = (sorted(p.name for p in ftkit.DEFAULT_MODEL_DIR.parent.iterdir())
                     if ftkit.DEFAULT_MODEL_DIR.parent.is_dir() else [])

    code, err, _ = stopped(lambda: infer.main(infer.Settings(prompt="本文", adapter=str(adapter))), capsys)
    line = one_error_line(err)
    assert code == 2 and "adapter_config.json names the base model" in line and "pass --model" in line
    for base in (Path.cwd(), REPO_ROOT):
        assert not (base / "../.." / f"evil-{tmp_path.name}").resolve().exists()
    assert not elsewhere.exists()
    models_after = (sorted(p.name for p in ftkit.DEFAULT_MODEL_DIR.parent.iterdir())
                    if ftkit.DEFAULT_MODEL_DIR.parent.is_dir() else [])
    assert models_after == models_before  # nothing built, not even in tmp_docker/models


def test_run_artifacts_record_repository_relative_paths(tiny_model_dirs, tiny_data, tmp_path, monkeypatch):
    train, validation = tiny_data
    root = tmp_path.parent  # the tiny model and the data lie under it: it plays the repository
    monkeypatch.setattr(ftkit, "REPO_ROOT", root)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=1))
    leaking = [name for name, data in files_under(run_dir).items() if str(root).encode() in data]
    assert leaking == []
    adapter_config = json.loads((run_dir / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == Path(tiny_model_dirs["gemma3"]).relative_to(root).as_posix()
    run = json.loads((run_dir / "run.json").read_text())
    assert run["settings"]["train_file"] == train.relative_to(root).as_posix()
    assert list(run["data_sha256"]) == [train.relative_to(root).as_posix(), validation.relative_to(root).as_posix()]
    # Read back from anywhere: the recorded base model is found from the repository root.
    monkeypatch.chdir(tmp_path)
    from ftkit.runs import adapter_base_model
    assert Path(adapter_base_model(run_dir)) == Path(tiny_model_dirs["gemma3"])
    # Asked otherwise, the full paths are recorded.
    absolute = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, "", tmp_path / "out", max_steps=1,
                                          record_absolute_paths=True))
    assert (json.loads((absolute / "adapter_config.json").read_text())["base_model_name_or_path"]
            == str(Path(tiny_model_dirs["gemma3"]).resolve()))


def test_merge_refuses_an_existing_hub_repo_in_one_line(tiny_model_dirs, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    import v1_000_merge as merge

    adapter = make_perturbed_adapter(tiny_model_dirs["llama"], tmp_path / "runs" / "20260101-000000_lora")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    monkeypatch.setattr(FakeHub, "existing", True)
    FakeHub.uploads = []
    out = tmp_path / "merged"
    code, err, _ = stopped(lambda: merge.main(merge.Settings(adapter=str(adapter), output=str(out),
                                                             push_to_hub="me/old")), capsys)
    assert code == 2 and "'me/old' already exists; nothing was uploaded" in one_error_line(err)
    assert FakeHub.uploads == [] and (out / "model.safetensors").is_file()
    provenance = json.loads((out / "merged_from.json").read_text())
    assert set(provenance) == {"base_model", "adapter", "dtype"}


# -------------------------------------------------------------------------------------------- output dir


def test_output_dir_that_is_a_file_stops_before_the_model_loads(tiny_data, tmp_path, capsys, no_model_load):
    train, validation = tiny_data
    target = tmp_path / "out"
    target.write_text("a file")
    code, err, _ = stopped(lambda: finetune.main(settings_for("unused", train, validation, target)), capsys)
    assert code == 2 and one_error_line(err) == f"error: --output_dir {target}: is a file, not a folder"
    assert target.read_text() == "a file"


def test_output_dir_under_a_file_stops_before_the_model_loads(tiny_data, tmp_path, capsys, no_model_load):
    train, validation = tiny_data
    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "out"
    code, err, _ = stopped(lambda: finetune.main(settings_for("unused", train, validation, target)), capsys)
    assert code == 2 and "cannot create it, a part of the path is a file" in one_error_line(err)


def test_output_dir_without_write_permission(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    target = tmp_path / "locked"
    target.mkdir()
    target.chmod(0o555)
    command = [sys.executable, str(SCRIPT), "--model", str(tmp_path / "never-loaded"), "--train_file", str(train),
               "--output_dir", str(target), "--report_to", "none"]
    if os.geteuid() == 0:  # root ignores permissions unless it lacks CAP_DAC_OVERRIDE: run the script without it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: no way to take away the permission to write")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner",
                   "--inh-caps=-dac_override,-dac_read_search,-fowner"] + command
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    finally:
        target.chmod(0o755)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert one_error_line(lines) == f"error: --output_dir {target}: cannot write there (Permission denied)"
    assert list(target.iterdir()) == []


def mounted_tmpfs(mount_point: Path, options: str):
    """A tmpfs mounted at `mount_point` with `options` for the test's duration (needs root: skipped otherwise)."""
    mount_point.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                                           capture_output=True).returncode != 0:
        pytest.skip(f"mounting a tmpfs ({options}) needs root")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only file system."""
    yield from mounted_tmpfs(tmp_path / "readonly", "ro,size=1m")


def test_output_dir_on_a_read_only_file_system(tiny_data, read_only_dir, capsys, no_model_load):
    train, validation = tiny_data
    for target in (read_only_dir, read_only_dir / "runs"):
        code, err, _ = stopped(lambda target=target: finetune.main(settings_for("unused", train, validation, target)),
                               capsys)
        line = one_error_line(err)
        assert (code == 2 and line.startswith(f"error: --output_dir {target}: cannot")
                and "Read-only file system" in line)
    assert list(read_only_dir.iterdir()) == []


# ----------------------------------------------------------------------------------- failures after training


def only_unfinished(output: Path) -> Path:
    """The one folder left under `output`: marked unfinished, with the trained adapter, never the newest run."""
    [kept] = [p for p in output.iterdir() if p.name != "mlruns"]
    assert kept.name.endswith("_lora-unfinished"), kept
    assert (kept / "adapter_model.safetensors").is_file() and (kept / "adapter_config.json").is_file()
    assert finished_runs(output) == []
    with pytest.raises(KitError, match="no finished run"):
        resolve_adapter(None, output)
    return kept


def test_full_disk_while_saving_keeps_the_adapter(tiny_model_dirs, tiny_data, tmp_path, monkeypatch, capsys):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(args[1]))

    monkeypatch.setattr(finetune, "save_loss_curve", disk_full)  # the writer after the adapter
    train, validation = tiny_data
    output = tmp_path / "out"
    code, err, _ = stopped(lambda: finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output,
                                                              max_steps=3)), capsys)
    line = one_error_line(err)
    kept = only_unfinished(output)
    assert code == 2 and "(loss_curve.png): No space left on device" in line
    assert f"the trained adapter is kept in {kept}" in line
    assert "No space left on device" in (kept / UNFINISHED_FILE).read_text()


@pytest.fixture
def tiny_disk(tmp_path):
    """A real file system that fills up: a 48 KiB tmpfs, too small for the tiny adapter."""
    yield from mounted_tmpfs(tmp_path / "tiny-disk", "size=48k")


def test_disk_full_while_writing_the_adapter_is_one_line(tiny_model_dirs, tiny_data, tiny_disk, capsys):
    train, validation = tiny_data
    code, err, _ = stopped(lambda: finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tiny_disk,
                                                              max_steps=2)), capsys)
    line = one_error_line(err)
    assert (code == 2 and line.startswith("error: could not write into the run folder")
            and "No space left on device" in line)
    # The adapter itself did not fit: nothing that looks like a run (or half an adapter) is left.
    assert [p.name for p in tiny_disk.iterdir()] == []


@pytest.mark.parametrize("stop_signal", ["SIGTERM", "SIGHUP"])
def test_signal_during_final_validation_keeps_the_adapter(tiny_model_dirs, tiny_data, tmp_path, monkeypatch, capsys,
                                                          stop_signal):
    pytest.importorskip("mlflow")

    def killed_while_validating(*args, **kwargs):
        os.kill(os.getpid(), getattr(signal, stop_signal))  # the script's own handler turns it into an interrupt
        time.sleep(5)
        raise AssertionError("the signal did not stop the validation")

    monkeypatch.setattr(finetune, "evaluate_loss", killed_while_validating)
    handler_before = signal.getsignal(getattr(signal, stop_signal))
    train, validation = tiny_data
    output = tmp_path / "out"
    code, err, _ = stopped(lambda: finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output,
                                                              max_steps=2, report_to="mlflow")), capsys)
    kept = only_unfinished(output)
    [line] = [line for line in err if line.startswith("interrupted")]
    assert code == 130 and line == (f"interrupted ({stop_signal}; the trained adapter is kept in {kept} "
                                    f"(marked unfinished: {UNFINISHED_FILE}))")
    assert signal.getsignal(getattr(signal, stop_signal)) == handler_before  # the script put the handler back
    client = mlflow_client(output)
    [run] = client.search_runs([client.get_experiment_by_name("lora").experiment_id])
    assert run.info.status == "KILLED"


def test_a_bug_after_training_keeps_the_adapter_and_names_it(tiny_model_dirs, tiny_data, tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the final validation")

    monkeypatch.setattr(finetune, "evaluate_loss", broken)
    train, validation = tiny_data
    output = tmp_path / "out"
    with pytest.raises(RuntimeError, match="a bug in the final validation"):  # a bug keeps its traceback
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=2))
    kept = only_unfinished(output)
    assert f"[stopped] the trained adapter is kept in {kept}" in capsys.readouterr().err


def test_sighup_mid_training_removes_the_folder_and_marks_the_tracking_run_killed(tiny_model_dirs, tiny_data, tmp_path):
    """A closed terminal or dropped SSH session, before training ended: the same clean-up as Ctrl-C."""
    pytest.importorskip("mlflow")
    train, _ = tiny_data
    output = tmp_path / "out"
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--model", str(tiny_model_dirs["gemma3"]), "--train_file",
                                str(train), "--validation_file", "", "--output_dir", str(output), "--max_steps",
                                "100000", "--report_to", "mlflow"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(output.glob(".incomplete-*")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3.0)  # inside the training loop
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted (SIGHUP)" in stderr and "Traceback" not in stderr
    assert sorted(p.name for p in output.iterdir()) == ["mlruns"]
    client = mlflow_client(output)
    [run] = client.search_runs([client.get_experiment_by_name("lora").experiment_id])
    assert run.info.status == "KILLED"


def test_a_failing_final_rename_never_deletes_the_run(tiny_model_dirs, tiny_data, tmp_path, monkeypatch, capsys):
    import ftkit.runs

    real_rename = os.rename
    failed = []

    def rename_fails_once(source, target):
        if not failed and Path(source).name.startswith(".incomplete-"):  # the final rename of RunFolder.finish
            failed.append(target)
            raise OSError(errno.EIO, "Input/output error")
        return real_rename(source, target)

    monkeypatch.setattr(ftkit.runs.os, "rename", rename_fails_once)
    train, validation = tiny_data
    output = tmp_path / "out"
    code, err, _ = stopped(lambda: finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output,
                                                              max_steps=2)), capsys)
    line = one_error_line(err)
    kept = only_unfinished(output)
    assert code == 2 and "Input/output error" in line and f"kept in {kept}" in line
    for name in ("train_metrics.json", "run.json", "loss_curve.png", "tokenizer_config.json"):
        assert (kept / name).is_file(), name  # everything the run had written is still there


# ------------------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize("setting, value, message", [
    ("lora_r", 0, "--lora_r is 0, expected a whole number of at least 1 (LoRA rank)"),
    ("learning_rate", 0.0, "--learning_rate is 0.0, expected a number above 0"),
    ("learning_rate", -1.0, "--learning_rate is -1.0, expected a number above 0"),
    ("learning_rate", float("nan"), "--learning_rate is nan, expected a number above 0"),
    ("epochs", 0.0, "--epochs is 0.0, expected a number above 0"),
    ("gradient_accumulation", 0, "--gradient_accumulation is 0, expected a whole number of at least 1"),
    ("lora_dropout", 1.5, "--lora_dropout is 1.5, expected a number of at least 0 and below 1 (a probability)"),
    ("micro_batch_tokens", -5, "--micro_batch_tokens is -5, expected a whole number of at least 0"),
    ("warmup_ratio", 5.0, "--warmup_ratio is 5.0, expected a number of at least 0 and at most 1"),
    ("lora_alpha", 0, "--lora_alpha is 0, expected a number above 0"),
    ("max_grad_norm", 0.0, "--max_grad_norm is 0.0, expected a number above 0"),
    ("max_seq_len", 0, "--max_seq_len is 0, expected a whole number of at least 2"),
    ("min_learning_rate", 1.0, "--min_learning_rate is 1.0, expected a number of at least 0 and at most 0.005"),
    ("eval_every", -1, "--eval_every is -1, expected a whole number of at least 0"),
    ("save_every", -2, "--save_every is -2, expected a whole number of at least 0"),
    ("weight_decay", -0.1, "--weight_decay is -0.1, expected a number of at least 0"),
])
def test_each_bad_number_is_one_line_before_the_model_loads(tiny_data, tmp_path, capsys, no_model_load, setting,
                                                            value, message):
    train, validation = tiny_data
    output = tmp_path / "out"
    code, err, _ = stopped(lambda: finetune.main(settings_for("unused", train, validation, output,
                                                              **{setting: value})), capsys)
    line = one_error_line(err)
    assert code == 2 and message in line, line
    assert not output.exists()  # checked before anything is created


def test_a_bad_number_on_the_command_line(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--lora_r", "0", "--output_dir", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=300)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and one_error_line(lines) == \
        "error: --lora_r is 0, expected a whole number of at least 1 (LoRA rank)"
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------- data files


def test_non_utf8_data_file_names_its_line(tiny_model_dirs, tmp_path, capsys):
    lines = [json.dumps(record, ensure_ascii=False).encode("utf-8") for record in TINY_RECORDS]
    lines[2] = json.dumps({"prompt": "Café ?", "completion": "crème"}, ensure_ascii=False).encode("latin-1")
    train = tmp_path / "latin1.jsonl"
    train.write_bytes(b"\n".join(lines) + b"\n")
    output = tmp_path / "out"
    code, err, _ = stopped(lambda: finetune.main(settings_for(tiny_model_dirs["gemma3"], train, "", output)), capsys)
    line = one_error_line(err)
    assert (code == 2 and line.startswith(f"error: {train}:3: not UTF-8 text (byte 0xe9")
            and "save the file as UTF-8" in line)
    assert not output.exists() or list(output.iterdir()) == []


def test_malformed_adapter_config_is_one_line(tmp_path, capsys):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 8,\n "base_model_name_or_path": }')
    (adapter / "adapter_model.safetensors").write_bytes(b"")
    code, err, _ = stopped(lambda: infer.main(infer.Settings(prompt="本文", adapter=str(adapter))), capsys)
    assert code == 2 and one_error_line(err).startswith(f"error: {adapter / 'adapter_config.json'}:2: malformed JSON")
    assert sorted(p.name for p in adapter.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]


def test_adapter_folder_without_weights_is_one_line(tmp_path, capsys):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 8}')
    code, err, _ = stopped(lambda: infer.main(infer.Settings(prompt="本文", adapter=str(adapter))), capsys)
    assert code == 2 and one_error_line(err) == \
        (f"error: {adapter}: adapter_config.json but no adapter weights "
         "(adapter_model.safetensors or adapter_model.bin); is it a finished run folder?")


# --------------------------------------------------------------------------------------------- run folders


def test_two_runs_started_in_the_same_second_get_their_own_folders(tiny_model_dirs, tiny_data, tmp_path, monkeypatch):
    import ftkit.runs

    real_strftime = time.strftime
    monkeypatch.setattr(ftkit.runs.time, "strftime",
                        lambda fmt, *args: "20260101-000000" if fmt == "%Y%m%d-%H%M%S" else real_strftime(fmt, *args))
    output = tmp_path / "out"
    first = RunFolder(output, "lora")  # still running while the second one starts
    train, _ = tiny_data
    second = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, "", output, max_steps=1))
    (first.path / "adapter_config.json").write_text("{}")
    finished_first = first.finish()
    assert (finished_first.name, second.name) == ("20260101-000000_lora", "20260101-000000_lora-2")
    assert (second / "adapter_model.safetensors").is_file() and (finished_first / "adapter_config.json").is_file()


# --------------------------------------------------------------------------------------------- --too_long


def test_too_long_counts_per_split_before_training_and_truncation_counts_dropped(tiny_model_dirs, tmp_path, capsys):
    from ftkit.modeling import load_tokenizer

    limit = max(len(e.input_ids) for e in encoded_records(load_tokenizer(tiny_model_dirs["gemma3"])))
    long_prompt = chat_record("東京都渋谷区の会社員。" * 40, '{"persons": []}')  # its answer is cut off entirely
    long_answer = chat_record("短い。", '{"persons": [{"name": "山田太郎"}]}' * 30)  # part of its answer survives
    train = write_jsonl(tmp_path / "train.jsonl", TINY_RECORDS + [long_prompt, long_answer])
    validation = write_jsonl(tmp_path / "validation.jsonl", TINY_RECORDS + [long_prompt])
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=1,
                                         max_seq_len=limit, too_long="truncate"))
    out = capsys.readouterr().out
    train_line = (f"[data] train: 2 samples were longer than --max_seq_len {limit}: "
                  "1 truncated (part of the answer kept), 1 dropped (the answer was cut off entirely)")
    validation_line = (f"[data] validation: 1 samples were longer than --max_seq_len {limit}: "
                       "0 truncated (part of the answer kept), 1 dropped (the answer was cut off entirely)")
    assert train_line in out and validation_line in out
    assert out.index(train_line) < out.index("[model]")  # said before the model loads and training starts
    recorded = json.loads((run_dir / "train_metrics.json").read_text())["samples_over_max_seq_len"]
    assert recorded["train"] == 2 and recorded["validation"] == 1 and recorded["action"] == "truncate"
    assert recorded["outcomes"]["train"] == {"over_max_seq_len": 2, "skipped": 0, "truncated": 1, "dropped": 1}
    assert json.loads((run_dir / "train_metrics.json").read_text())["train_samples"] == len(TINY_RECORDS) + 1
