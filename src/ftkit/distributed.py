"""Several processes under `accelerate launch`: one per GPU (DDP, or DeepSpeed ZeRO-2), on one node or several.

    accelerate launch --config_file src/configs/accelerate_ddp.yaml --num_processes 4 src/v1_000_lora_finetune.py
    accelerate launch --config_file src/configs/accelerate_deepspeed_zero2.yaml src/v1_000_lora_finetune.py

A plain `python src/v1_000_lora_finetune.py` is one process and nothing here changes it: no Accelerator is made
and the training loop runs exactly as before. Under the launcher every process loads the same model and the same
seeded data, the trainer deals each optimizer step's micro-batches out to the processes, and accelerate does the
rest: the process group (NCCL on GPUs, gloo on CPUs), DDP wrapping or the DeepSpeed engine, the gradient
reduction. Rank 0 alone prints, validates and writes the run folder; the other processes train beside it.
"""

import contextlib
import os
import sys
import warnings
from datetime import timedelta
from pathlib import Path

import torch

# Rank 0 validates (and generates) and saves while the other processes wait in their next collective call; the
# process group's timeout must outlast that wait.
COLLECTIVE_TIMEOUT = timedelta(hours=3)
# Test aid: when set to a folder, each process writes rank<N>.json there after training, holding a checksum of
# its trainable weights (the processes stay in step exactly when all checksums are equal).
CHECKSUM_DIR_VARIABLE = "FTKIT_DEBUG_WEIGHTS_CHECKSUM_DIR"

_launched = None


class Processes:
    """This run's processes: one (no accelerator), or those started by `accelerate launch` (an Accelerator)."""

    def __init__(self, accelerator=None):
        self.accelerator = accelerator
        self.rank = accelerator.process_index if accelerator else 0
        self.world_size = accelerator.num_processes if accelerator else 1

    @property
    def several(self) -> bool:
        return self.accelerator is not None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def uses_deepspeed(self) -> bool:
        from accelerate.utils import DistributedType

        return self.several and self.accelerator.distributed_type == DistributedType.DEEPSPEED

    @property
    def device(self) -> str | None:
        """This process's device (`cuda:<local rank>` or `cpu`) under the launcher; None for a single process."""
        if not self.accelerator:
            return None
        return "cpu" if self.accelerator.device.type == "cpu" else str(self.accelerator.device)

    def describe(self) -> str:
        if not self.several:
            return "1 process"
        engine = "DeepSpeed ZeRO-%d" % self.accelerator.state.deepspeed_plugin.zero_stage if self.uses_deepspeed else "DDP"
        return f"{self.world_size} processes ({engine}, {self.accelerator.state.backend} on {self.accelerator.device.type})"

    def share(self, value):
        """Rank 0's `value` (anything picklable) on every process; also a barrier."""
        if not self.several:
            return value
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([value], from_process=0)[0]

    def sum(self, values: list[float]) -> list[float]:
        """Each value summed over the processes."""
        if not self.several or not values:
            return list(values)
        totals = torch.tensor(values, dtype=torch.float64, device=self.accelerator.device)
        return self.accelerator.reduce(totals, reduction="sum").tolist()

    def main_process_first(self):
        """Rank 0 runs the block first (building a model directory, say); the others run it after."""
        return self.accelerator.main_process_first() if self.several else contextlib.nullcontext()

    def run_folder(self, make_run_folder):
        """Rank 0 makes the run folder (`make_run_folder()`); the other processes get a stand-in naming it."""
        if not self.several:
            return make_run_folder()
        run = make_run_folder() if self.is_main else None
        path = self.share(str(run.path) if self.is_main else None)
        return run if self.is_main else RunFolderOfMainProcess(path)

    def prepare(self, model, optimizer, loss_fn, max_grad_norm: float):
        """The step's loss as a module wrapped by accelerate (DDP, or the DeepSpeed engine), and the optimizer.

        Under DeepSpeed the engine owns the optimizer, so clipping and stepping happen in `accelerator.backward`.
        """
        step_loss = StepLoss(model, loss_fn)
        if self.uses_deepspeed:
            config = self.accelerator.state.deepspeed_plugin.deepspeed_config
            if config.get("gradient_clipping", "auto") == "auto":
                config["gradient_clipping"] = max_grad_norm  # the engine clips: with --max_grad_norm, not its default
            return self.accelerator.prepare(step_loss, optimizer)
        return self.accelerator.prepare(step_loss), optimizer


class StepLoss(torch.nn.Module):
    """`loss_fn(model, batch)` as a module's forward, so that DDP and DeepSpeed see the whole loss computation.

    The kit's losses call the decoder and output head themselves (loss.py) rather than `model.forward`, and DDP
    only reduces the gradients of work done inside its own forward: so the loss is what accelerate wraps.
    """

    def __init__(self, model, loss_fn):
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, batch):
        return self.loss_fn(self.model, batch)


class RunFolderOfMainProcess:
    """What the other processes hold instead of a RunFolder: rank 0's folder by name. They never create, write,
    rename or remove it (rank 0 does all of that)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = self.path.name

    def discard(self) -> None:
        pass


def launched_processes(device: str = "auto") -> Processes:
    """The processes of this run, set up once: an Accelerator when `accelerate launch` started several processes
    (or DeepSpeed), else a single process with nothing set up. `device` is the --device setting: "cpu" (or a
    machine without CUDA) makes accelerate use gloo on the CPU."""
    global _launched
    if _launched is not None:
        return _launched
    from accelerate.utils import get_int_from_env, parse_flag_from_env

    world_size = get_int_from_env(["WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"], 1)
    if world_size <= 1 and not parse_flag_from_env("ACCELERATE_USE_DEEPSPEED"):
        return Processes()  # not cached: a notebook or test may run several one-process trainings
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    cpu = device == "cpu" or not torch.cuda.is_available()
    accelerator = Accelerator(cpu=cpu, device_placement=False,  # the kit places the model (and QLoRA's device_map)
                              kwargs_handlers=[InitProcessGroupKwargs(timeout=COLLECTIVE_TIMEOUT)])
    _launched = Processes(accelerator)
    if not _launched.is_main:  # one log, not one per process: the others' stdout and warnings go nowhere
        sys.stdout = open(os.devnull, "w")
        warnings.simplefilter("ignore")
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    return _launched


def write_weights_checksum(model, processes: Processes, steps: int) -> None:
    """With FTKIT_DEBUG_WEIGHTS_CHECKSUM_DIR set: this process's trainable weights' checksum, for tests."""
    folder = os.environ.get(CHECKSUM_DIR_VARIABLE)
    if not folder:
        return
    import hashlib
    import json

    digest = hashlib.sha256()
    for name, parameter in sorted(model.named_parameters()):
        if parameter.requires_grad:
            digest.update(name.encode())
            digest.update(parameter.detach().float().cpu().numpy().tobytes())
    record = {"rank": processes.rank, "world_size": processes.world_size, "steps": steps, "sha256": digest.hexdigest()}
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"rank{processes.rank}.json").write_text(json.dumps(record) + "\n")
