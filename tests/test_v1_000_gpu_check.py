"""bench/v1_000_gpu_check.sh on a machine without a GPU: arguments, the dry run, the refusal, and the step runner
(timeouts, failures, skips, the summary) with each step's command replaced by a tiny fake one, so that it runs
in seconds. What only a GPU machine shows (the real steps) is listed in docs/gpu_check.md."""

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "bench" / "v1_000_gpu_check.sh"
TIMEOUTS = {"install": 180, "model": 150, "tests": 150, "train": 150, "qlora": 150, "bench": 180, "deepspeed": 180}


def run(*args, timeout=60, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GPU_CHECK_")}
    clean.update(env)
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=clean, timeout=timeout,
                          cwd=REPO_ROOT)


def summary_rows(results: Path) -> dict:
    """step -> (status, exit code, seconds, timeout, log) from summary.md's table."""
    rows = {}
    for line in (results / "summary.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] in TIMEOUTS:
            rows[cells[0]] = tuple(cells[1:])
    return rows


def fake_steps(**commands) -> dict:
    """Environment that pretends a GPU is there and replaces the setup steps (and the named ones)."""
    env = {"GPU_CHECK_ASSUME_GPU": "1", "GPU_CHECK_CMD_INSTALL": "echo installed",
           "GPU_CHECK_CMD_MODEL": 'echo /fake/model > "$GPU_CHECK_RESULTS/model.txt"'}
    env.update({f"GPU_CHECK_CMD_{name.upper()}": command for name, command in commands.items()})
    return env


def test_help_names_the_modes_and_options():
    result = run("--help")
    assert result.returncode == 0
    for word in ("--dry-run", "--steps", "--prepare-wheels", "--model", "--budget", "--results", "summary.md"):
        assert word in result.stdout
    assert ", ".join(["tests", "train", "qlora", "bench", "deepspeed"]) in result.stdout


def test_dry_run_lists_every_step_with_its_timeout_and_runs_nothing(tmp_path):
    results = tmp_path / "results"
    result = run("--dry-run", "--results", str(results), GPU_CHECK_ASSUME_GPU="0")  # works without a GPU too
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  (\w+)\s+timeout\s+(\d+) s", result.stdout, re.MULTILINE)
    assert listed == [(name, str(seconds)) for name, seconds in TIMEOUTS.items()]
    for command in ("tests/test_cuda_paths.py", "--qlora", "bench/v1_000_bench_speed_memory.py",
                    "accelerate_deepspeed_zero2.yaml --num_processes 1", "--max_steps 5", "--device cuda"):
        assert command in result.stdout
    assert not results.exists()


def test_steps_choose_the_checks_in_a_fixed_order_and_timeouts_can_be_replaced():
    result = run("--dry-run", "--steps", "qlora,tests,qlora", GPU_CHECK_TIMEOUT_QLORA="7")
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  (\w+)\s+timeout\s+(\d+) s", result.stdout, re.MULTILINE)
    assert listed == [("install", "180"), ("model", "150"), ("tests", "150"), ("qlora", "7")]
    only_tests = run("--dry-run", "--steps=tests")
    assert re.findall(r"^  (\w+)\s+timeout", only_tests.stdout, re.MULTILINE) == ["install", "tests"]  # no model needed


@pytest.mark.parametrize("args, message", [
    (["--steps", "train,nope"], "error: unknown step 'nope' in --steps (steps: tests,train,qlora,bench,deepspeed)"),
    (["--frobnicate"], "error: unknown option '--frobnicate' (see --help)"),
    (["--steps"], "error: --steps needs a value (see --help)"),
    (["--budget", "ten"], "error: --budget takes whole seconds, not 'ten'"),
])
def test_bad_arguments_get_one_line_and_exit_2(args, message):
    result = run(*args, GPU_CHECK_ASSUME_GPU="1")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""


def test_without_a_gpu_the_steps_are_refused_with_one_line(tmp_path):
    results = tmp_path / "results"
    result = run("--results", str(results), GPU_CHECK_ASSUME_GPU="0")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: no CUDA GPU on this machine (") and "--dry-run lists them" in line
    assert not results.exists()


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has nvidia-smi")
def test_real_detection_refuses_where_nvidia_smi_is_missing():
    result = run("--steps", "tests")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: no CUDA GPU on this machine (nvidia-smi not found): the GPU "
                                          "check's steps need one (--dry-run lists them; "
                                          "--prepare-wheels runs anywhere)"]


def test_a_step_that_times_out_is_recorded_and_the_next_ones_run(tmp_path):
    results = tmp_path / "results"
    env = fake_steps(tests="sleep 30", train='echo "trained $PYTHONPATH"', qlora="echo broken >&2; exit 3",
                     bench="true")
    env["GPU_CHECK_TIMEOUT_TESTS"] = "1"
    # the install step's package record says deepspeed is missing: its step is skipped with a clear line
    env["GPU_CHECK_CMD_INSTALL"] = ('printf "deepspeed MISSING ModuleNotFoundError\\n" '
                                    '> "$GPU_CHECK_RESULTS/packages.txt"')
    started = time.monotonic()
    result = run("--results", str(results), "--archive", str(tmp_path / "out" / "check.tgz"), **env)
    assert time.monotonic() - started < 20  # the sleeping step was stopped at its timeout
    assert result.returncode == 1, result.stdout + result.stderr
    rows = summary_rows(results)
    assert list(rows) == list(TIMEOUTS)
    assert rows["install"][:2] == ("ok", "0") and rows["model"][:2] == ("ok", "0")
    assert rows["tests"][:2] == ("timed out", "124") and rows["tests"][3] == "1"
    assert float(rows["tests"][2]) >= 1
    assert rows["train"][:2] == ("ok", "0")
    assert rows["qlora"][:2] == ("failed", "3")
    assert rows["bench"][:2] == ("ok", "0")
    assert rows["deepspeed"][0] == "skipped: deepspeed not installed (see install.log)"
    summary = (results / "summary.md").read_text()
    assert "4 ok, 1 failed, 1 timed out, 1 skipped" in summary
    assert "- base model of the training steps: /fake/model" in summary
    assert "## nvidia-smi at the start" in summary and "## nvidia-smi at the end" in summary
    assert "trained /tmp/gpu-check-site" in (results / rows["train"][4]).read_text()
    assert "broken" in (results / rows["qlora"][4]).read_text()
    assert "[gpu-check] qlora: failed (exit code 3" in result.stdout
    assert "    broken" in result.stdout  # a failed step's last lines are printed
    with tarfile.open(tmp_path / "out" / "check.tgz") as archive:
        assert "results/summary.md" in archive.getnames()


def test_once_the_budget_is_spent_the_later_steps_are_skipped(tmp_path):
    results = tmp_path / "results"
    env = fake_steps(tests="sleep 2", train="true", qlora="true")
    result = run("--results", str(results), "--steps", "tests,train,qlora", GPU_CHECK_BUDGET="16", **env)
    assert result.returncode == 3, result.stdout + result.stderr  # nothing failed, something was skipped
    rows = summary_rows(results)
    assert rows["tests"][:2] == ("ok", "0")
    assert rows["train"][0] == rows["qlora"][0] == "skipped: the overall budget of 16 s is spent"


def test_a_failed_model_step_skips_the_training_steps_but_not_the_tests(tmp_path):
    results = tmp_path / "results"
    env = fake_steps(model="exit 2", tests="true", train="true")
    result = run("--results", str(results), "--steps", "tests,train", **env)
    assert result.returncode == 1
    rows = summary_rows(results)
    assert rows["model"][:2] == ("failed", "2") and rows["tests"][:2] == ("ok", "0")
    assert rows["train"][0] == "skipped: no base model (the model step failed)"


def test_prepare_wheels_dry_run_takes_the_pins_from_requirements():
    result = run("--prepare-wheels", "--dry-run")
    assert result.returncode == 0, result.stderr
    requirements = (REPO_ROOT / "requirements.txt").read_text()
    for name in ("transformers", "peft", "trl", "datasets", "bitsandbytes", "gguf"):
        pin = re.search(rf"^{name}==\S+", requirements, re.MULTILINE).group(0)
        assert f" {pin} " in result.stdout + " "
    assert "--python-version 3.12" in result.stdout and "--only-binary=:all:" in result.stdout
    assert re.search(r"--no-binary=:all: .*deepspeed==\S+", result.stdout)
    assert "torch==" not in result.stdout


def test_install_never_installs_torch_and_builds_deepspeed_without_isolation(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("torch-2.11.0-cp312-cp312-manylinux_2_28_x86_64.whl", "nvidia_cublas-13.0-py3-none-any.whl",
                 "peft-0.21.2-py3-none-any.whl", "deepspeed-0.19.8.tar.gz"):
        (wheels / name).write_bytes(b"")
    fake_python = tmp_path / "python"  # records its arguments instead of running pip
    fake_python.write_text('#!/usr/bin/env bash\necho "python $* DS_BUILD_OPS=${DS_BUILD_OPS:-}" >> "$CALLS"\n')
    fake_python.chmod(0o755)
    (tmp_path / "results").mkdir()
    calls = tmp_path / "calls.txt"
    result = run("--internal-install", str(tmp_path / "results"), GPU_CHECK_WHEELS=str(wheels),
                 GPU_CHECK_SITE=str(tmp_path / "site"), GPU_CHECK_PYTHON=str(fake_python), CALLS=str(calls))
    assert "refused torch-2.11.0-cp312-cp312-manylinux_2_28_x86_64.whl" in result.stdout
    assert "refused nvidia_cublas-13.0-py3-none-any.whl" in result.stdout
    pip_calls = [line for line in calls.read_text().splitlines() if "pip install" in line]
    wheel_call, sdist_call = pip_calls
    assert "--no-index --no-deps" in wheel_call and "peft-0.21.2" in wheel_call and "torch-" not in wheel_call
    assert "nvidia_cublas" not in wheel_call and f"--target {tmp_path / 'site'}" in wheel_call
    assert "--no-build-isolation" in sdist_call and "deepspeed-0.19.8.tar.gz" in sdist_call
    assert sdist_call.endswith("DS_BUILD_OPS=0")
    assert result.returncode == 1  # the fake python reports no torch


def test_slimming_bitsandbytes_keeps_the_cpu_and_chosen_cuda_builds(tmp_path):
    wheel = tmp_path / "bitsandbytes-0.50.2-py3-none-manylinux_2_24_x86_64.whl"
    names = ["bitsandbytes/__init__.py", "bitsandbytes/libbitsandbytes_cpu.so",
             "bitsandbytes/libbitsandbytes_cuda118.so",
             "bitsandbytes/libbitsandbytes_cuda130.so", "bitsandbytes/libbitsandbytes_rocm64.so"]
    record = "bitsandbytes-0.50.2.dist-info/RECORD"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in names:
            archive.writestr(name, b"x" * 1000)
        archive.writestr(record, "".join(f"{name},sha256=abc,1000\n" for name in names) + f"{record},,\n")
    result = run("--internal-slim-bnb", str(wheel), GPU_CHECK_BNB_CUDA="130", GPU_CHECK_PYTHON=sys.executable)
    assert result.returncode == 0, result.stderr
    assert "dropped 2 others" in result.stdout
    kept = ["bitsandbytes/__init__.py", "bitsandbytes/libbitsandbytes_cpu.so",
            "bitsandbytes/libbitsandbytes_cuda130.so"]
    with zipfile.ZipFile(wheel) as archive:
        assert archive.namelist() == kept + [record]
        assert [line.split(",")[0] for line in archive.read(record).decode().splitlines()] == kept + [record]
