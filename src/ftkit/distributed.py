"""Several processes under `accelerate launch`: one per GPU (DDP, or DeepSpeed ZeRO-2), on one node or several.

    accelerate launch --config_file src/configs/accelerate_ddp.yaml --num_processes 4 src/v1_000_lora_finetune.py
    accelerate launch --config_file src/configs/accelerate_deepspeed_zero2.yaml src/v1_000_lora_finetune.py

A plain `python src/v1_000_lora_finetune.py` is one process and nothing here changes it: no Accelerator is made
and the training loop runs exactly as before. Under the launcher every process loads the same model and the same
seeded data, the trainer deals each optimizer step's micro-batches out to the processes, and accelerate does the
rest: the process group (NCCL on GPUs, gloo on CPUs), DDP wrapping or the DeepSpeed engine, the gradient
reduction. Rank 0 alone prints, validates and writes the run folder; the other processes train beside it, quiet
(`Processes.quiet`).
"""

import atexit
import contextlib
import os
import warnings
from datetime import timedelta
from pathlib import Path

import torch

# Rank 0 validates (and generates) and saves while the other processes wait in their next collective call; the
# process group's timeout must outlast that wait.
COLLECTIVE_TIMEOUT = timedelta(hours=3)
# What every process warns about alike, from the same library code (deprecations, notices about settings): rank 0
# shows it once. Other warnings (a RuntimeWarning about this process's numbers, a ResourceWarning) may be the
# process's own, so they still show on every process.
REPEATED_WARNINGS = (UserWarning, FutureWarning, DeprecationWarning)

_launched = None


class Processes:
    """This run's processes: one (no accelerator), or those started by `accelerate launch` (an Accelerator)."""

    def __init__(self, accelerator=None):
        self.accelerator = accelerator
        self.rank = accelerator.process_index if accelerator else 0
        self.world_size = accelerator.num_processes if accelerator else 1
        self._quiet_until_exit = None

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
        engine = (f"DeepSpeed ZeRO-{self.accelerator.state.deepspeed_plugin.zero_stage}" if self.uses_deepspeed
                  else "DDP")
        return (f"{self.world_size} processes ({engine}, "
                f"{self.accelerator.state.backend} on {self.accelerator.device.type})")

    @contextlib.contextmanager
    def quiet(self):
        """Within the block a process other than rank 0 prints nothing, and leaves out the warnings
        (REPEATED_WARNINGS) and transformers' logs and progress bars that rank 0 shows already: one log, not one per
        process. Afterwards stdout, the warning filters and transformers' logging are as they were. On rank 0,
        and for a single process, nothing changes."""
        if self.is_main:
            yield
            return
        from transformers.utils import logging as transformers_logging

        verbosity, progress_bars = transformers_logging.get_verbosity(), transformers_logging.is_progress_bar_enabled()
        with open(os.devnull, "w") as nowhere, contextlib.redirect_stdout(nowhere), warnings.catch_warnings():
            for category in REPEATED_WARNINGS:
                warnings.filterwarnings("ignore", category=category)
            transformers_logging.set_verbosity_error()
            transformers_logging.disable_progress_bar()
            try:
                yield
            finally:
                transformers_logging.set_verbosity(verbosity)
                if progress_bars:
                    transformers_logging.enable_progress_bar()

    def stay_quiet(self) -> None:
        """`quiet()` from now until `end_quiet()`, or at the latest until the process exits.

        For scripts that print from start to end (loading, data, training) without a block to scope it to: under
        `accelerate launch` each process runs one training and then exits.
        """
        if self._quiet_until_exit is None:
            self._quiet_until_exit = contextlib.ExitStack()
            self._quiet_until_exit.enter_context(self.quiet())
            atexit.register(self.end_quiet)

    def end_quiet(self) -> None:
        """Ends `stay_quiet()`: stdout, warning filters and logging as before it, its devnull closed."""
        if self._quiet_until_exit is not None:
            quiet, self._quiet_until_exit = self._quiet_until_exit, None
            quiet.close()
            atexit.unregister(self.end_quiet)

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


def launched_processes(device: str = "auto", stay_quiet: bool = True) -> Processes:
    """The processes of this run, set up once: an Accelerator when `accelerate launch` started several processes
    (or DeepSpeed), else a single process with nothing set up. `device` is the --device setting: "cpu" (or a
    machine without CUDA) makes accelerate use gloo on the CPU. With `stay_quiet`, the processes other than rank 0
    are quiet (`Processes.stay_quiet`) from here on; a caller that scopes it itself passes False and runs the
    work inside `with processes.quiet():`."""
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
    if stay_quiet:
        _launched.stay_quiet()
    return _launched


def write_weights_checksum(model, processes: Processes, steps: int) -> None:
    """Writes nothing: the tests that compare the processes' weights take their checksum from outside the
    training code. The name stays for the code that calls it (ftkit.trainer.train)."""
