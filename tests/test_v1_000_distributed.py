"""Several processes: the training script under `accelerate launch` on two CPU processes (gloo, as DDP runs on
GPUs), checked against one process over the same micro-batches, and the shipped DDP and DeepSpeed ZeRO-2 configs.
The other processes' quiet mode and the trainer's DeepSpeed control flow have tests in tests/ftkit/."""

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import torch
from conftest import REPO_ROOT, settings_for
from safetensors.torch import load_file

import v1_000_lora_finetune as finetune

CONFIGS = REPO_ROOT / "src" / "configs"
# --max_seq_len 256 makes 5 micro-batches of the tiny data: with 2 processes the third step has one micro-batch,
# so process 1 takes part with an empty share (a weight-0 micro-batch).
COMMON = dict(max_steps=3, max_seq_len=256)
NO_TRACKING = {"report_to": "none"}  # keeps the runs fast


def flags(settings) -> list[str]:
    return [part for key, value in vars(settings).items() if key in FLAGS for part in (f"--{key}", str(value))]


FLAGS = ("model", "train_file", "validation_file", "output_dir", "learning_rate", "seed", "max_steps", "max_seq_len",
         "gradient_accumulation", "report_to")

# The training script as each launched process runs it, plus a record (rank<N>.json in the folder given as the
# first argument) of what the comparison needs and the script does not write: the checksum of the trainable
# weights after training, and, at exit, the state of stdout and of the warning filters.
RECORDING_SCRIPT = """\
import atexit, gc, hashlib, io, json, os, sys, warnings
from pathlib import Path

records = Path(sys.argv.pop(1))
sys.path.insert(0, {src!r})
import v1_000_lora_finetune as finetune
from ftkit.settings import parse_settings

record, stdout = {{}}, sys.stdout


def train_and_take_checksum(model, micro_batches, *, processes, **options):
    result = train(model, micro_batches, processes=processes, **options)
    digest = hashlib.sha256()
    for name, parameter in sorted(model.named_parameters()):
        if parameter.requires_grad:
            digest.update(name.encode())
            digest.update(parameter.detach().float().cpu().numpy().tobytes())
    record.update(rank=processes.rank, world_size=processes.world_size, steps=result.steps, sha256=digest.hexdigest())
    return result


def write_record():  # registered first, so it runs after the exit handlers of the training code
    open_devnulls = [f for f in gc.get_objects() if type(f) is io.TextIOWrapper and f.name == os.devnull
                     and not f.closed]
    record.update(stdout_as_before=sys.stdout is stdout, open_devnulls=len(open_devnulls),
                  warning_filters=[repr(f) for f in warnings.filters])
    (records / f"rank{{record['rank']}}.json").write_text(json.dumps(record))


atexit.register(write_record)
train, finetune.train = finetune.train, train_and_take_checksum
finetune.main(parse_settings(finetune.Settings))
"""


def test_two_processes_stay_in_step_write_one_run_and_match_one_process(tiny_model_dirs, tiny_data, tmp_path):
    train_file, validation_file = tiny_data
    model_dir = tiny_model_dirs["gemma3"]
    launched = settings_for(model_dir, train_file, validation_file, tmp_path / "two", **COMMON, **NO_TRACKING)
    script, records_dir = tmp_path / "recording_v1_000_lora_finetune.py", tmp_path / "records"
    script.write_text(RECORDING_SCRIPT.format(src=str(REPO_ROOT / "src")))
    records_dir.mkdir()
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(CONFIGS / "accelerate_ddp.yaml"),
               "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               str(script), str(records_dir), *flags(launched), "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    # Both processes ran, and ended with the same weights (they trained on different micro-batches, so without
    # the gradient reduction their weights would differ).
    records = [json.loads((records_dir / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [(r["world_size"], r["steps"]) for r in records] == [(2, 3), (2, 3)]
    assert records[0]["sha256"] == records[1]["sha256"]

    # Process 1 printed nothing, and by its exit its stdout was its own again, the devnull closed, and it kept no
    # warning filter that process 0, never quiet, lacks (process 0 has more: its validation imports more modules).
    assert completed.stdout.count(" training samples in ") == 1 and completed.stdout.count("[model] ") == 1
    assert [(r["stdout_as_before"], r["open_devnulls"]) for r in records] == [(True, 0), (True, 0)]
    assert not Counter(records[1]["warning_filters"]) - Counter(records[0]["warning_filters"])

    # Exactly one run folder, finished, written by rank 0 alone, and one log.
    folders = [p for p in (tmp_path / "two").iterdir() if p.name != "mlruns"]
    assert len(folders) == 1 and not folders[0].name.startswith(".incomplete-")
    run_dir = folders[0]
    assert (run_dir / "adapter_model.safetensors").is_file() and (run_dir / "adapter_config.json").is_file()
    assert completed.stdout.count("[done] adapter saved to") == 1
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["optimizer_steps"] == 3
    assert metrics["effective_batch_tokens"] == 256 * 1 * 2
    assert ("[done] effective batch 512 tokens per optimizer step "
            "(256 per micro-batch x 1 accumulation x 2 processes)" in completed.stdout)

    # One process accumulating the same two micro-batches per step gives the same run.
    reference_dir = finetune.main(settings_for(model_dir, train_file, validation_file, tmp_path / "one",
                                               gradient_accumulation=2, **COMMON, **NO_TRACKING))
    reference = json.loads((reference_dir / "train_metrics.json").read_text())
    assert reference["processes"] == 1 and reference["effective_batch_tokens"] == 512
    for got, expected in zip(metrics["history"], reference["history"], strict=True):
        assert got["loss"] == pytest.approx(expected["loss"], abs=1e-5)
        assert got["grad_norm"] == pytest.approx(expected["grad_norm"], rel=1e-4)
        assert got["tokens"] == expected["tokens"]
    assert metrics["validation_loss"] == pytest.approx(reference["validation_loss"], abs=1e-5)
    adapter, reference_adapter = (load_file(str(run_dir / "adapter_model.safetensors")),
                                  load_file(str(reference_dir / "adapter_model.safetensors")))
    assert adapter.keys() == reference_adapter.keys()
    for name, weight in reference_adapter.items():
        assert torch.allclose(adapter[name], weight, atol=1e-5), name


# ------------------------------------------------------------------------------------------------ configs


def test_shipped_accelerate_configs_parse_and_agree_with_the_deepspeed_file():
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DeepSpeedPlugin, DistributedType

    ddp = load_config_from_file(str(CONFIGS / "accelerate_ddp.yaml"))
    assert ddp.distributed_type == DistributedType.MULTI_GPU and ddp.mixed_precision == "no"

    zero2 = load_config_from_file(str(CONFIGS / "accelerate_deepspeed_zero2.yaml"))
    assert zero2.distributed_type == DistributedType.DEEPSPEED and zero2.mixed_precision == "bf16"
    json_file = REPO_ROOT / zero2.deepspeed_config["deepspeed_config_file"]  # relative to the repository root
    assert json_file == CONFIGS / "deepspeed_zero2.json"
    config = json.loads(json_file.read_text())
    assert config["zero_optimization"]["stage"] == 2
    # The kit's AdamW and cosine schedule are passed to the engine; a config naming its own would clash.
    assert "optimizer" not in config and "scheduler" not in config
    # The kit accumulates itself and counts micro-batches in tokens: DeepSpeed's own accumulation stays at 1.
    assert config["gradient_accumulation_steps"] == 1 and isinstance(config["train_micro_batch_size_per_gpu"], int)

    # Fill the "auto" values the way accelerate does when it prepares the engine: nothing may be left over.
    plugin = DeepSpeedPlugin(hf_ds_config=str(json_file))
    assert plugin.zero_stage == 2
    plugin.set_mixed_precision(zero2.mixed_precision)
    plugin.deepspeed_config["gradient_clipping"] = 1.0  # what ftkit.distributed.Processes.prepare does
    plugin.deepspeed_config_process(must_match=False, train_batch_size=1 * 1 * 4)
    assert "auto" not in json.dumps(plugin.deepspeed_config), plugin.deepspeed_config
    assert plugin.deepspeed_config["bf16"]["enabled"] is True

    assert "accelerate_deepspeed_zero2.yaml" in (CONFIGS / "qwen3_moe_extraction.yml").read_text()

