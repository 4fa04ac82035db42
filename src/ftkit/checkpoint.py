"""Opt-in rolling checkpoint, for runtimes that disconnect (notebooks, preemptible machines).

By default the kit writes no intermediate checkpoint. With `--save_every N` a run keeps exactly one,
`checkpoint.pt`, inside its unfinished run folder: the LoRA weights, optimizer and scheduler states, random
number generator states, the step reached (the data order is seeded, so the step is the position in the data),
the loss history and the validation state. It is written to a temporary file and renamed over the old one, so a
kill at any moment leaves either the old or the new checkpoint whole. It is deleted when the run finishes.

It is read back with `torch.load(..., weights_only=True)`: tensors, numbers, strings and containers only, so a
crafted `checkpoint.pt` (an unfinished folder on a shared drive, say) cannot run code. A file that cannot be
read that way (truncated, or not written by the kit) is a one-line KitError, and the run is not offered for
resuming again.
"""

import pickle
from dataclasses import asdict
from pathlib import Path

import torch

from .errors import KitError, first_line
from .files import replace_atomically

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_KEYS = ("step", "micro_batch_split", "adapter", "optimizer", "scheduler", "torch_rng", "result")


def read_checkpoint(path: str | Path) -> dict:
    """The state saved in a checkpoint.pt, loaded without running any code in it (weights_only=True).

    A truncated or foreign file is a KitError that says the run cannot be resumed (so that nobody is told to
    try the same --resume again); the folder is left as it is.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # UnpicklingError (a refused object), RuntimeError (a truncated zip), EOFError, ...
        if isinstance(error, pickle.UnpicklingError):  # torch's own text would suggest weights_only=False
            reason = "it holds objects other than tensors, numbers and text, which were refused, not run"
        else:
            reason = f"truncated or damaged: {first_line(error).split('. ')[0][:160]}"
        raise UnreadableCheckpoint(
            f"{path}: not a readable checkpoint of the kit ({reason}); this run cannot be resumed, start a new "
            "one (the folder is left as it is)") from None
    if not isinstance(state, dict) or any(key not in state for key in CHECKPOINT_KEYS):
        raise UnreadableCheckpoint(f"{path}: not a checkpoint of the kit "
                                   f"(keys: {sorted(state) if isinstance(state, dict) else type(state).__name__}); "
                                   "this run cannot be resumed: start a new one (the folder is left as it is)")
    return state


class UnreadableCheckpoint(KitError):
    """A checkpoint.pt that cannot be resumed from."""


class RollingCheckpoint:
    def __init__(self, run_dir: str | Path, every: int):
        self.path = Path(run_dir) / CHECKPOINT_FILE
        self.every = every
        self.unreadable = False  # set when restoring failed: the run is then not offered for resuming

    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0

    def exists(self) -> bool:
        return self.path.is_file()

    def save(self, step, split, model, optimizer, scheduler, result, validation=None) -> None:
        state = {
            "step": step,
            "micro_batch_split": split,
            "adapter": {name: p.detach().cpu() for name, p in model.named_parameters() if p.requires_grad},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "result": asdict(result),
            "validation": validation.state_dict() if hasattr(validation, "state_dict") else None,
        }
        # One writer per run folder: a fixed temporary name, so a kill mid-save leaves one file that the next save
        # reuses and delete() removes, not a new copy of the optimizer state each time.
        replace_atomically(self.path, lambda handle: torch.save(state, handle), keep_mode=True,
                           temporary=self.temporary_path())

    def restore(self, model, optimizer, scheduler, result, validation=None) -> tuple[int, int]:
        """Load the checkpoint into the given objects; returns (next step, micro-batch split)."""
        try:
            state = read_checkpoint(self.path)
        except UnreadableCheckpoint:
            self.unreadable = True
            raise
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name in state["adapter"]:
                    parameter.copy_(state["adapter"][name])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        for key, value in state["result"].items():
            setattr(result, key, value)
        if state["validation"] is not None and hasattr(validation, "load_state_dict"):
            validation.load_state_dict(state["validation"])
        return state["step"] + 1, state["micro_batch_split"]

    def temporary_path(self) -> Path:
        return self.path.with_name(self.path.name + ".tmp")

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        self.temporary_path().unlink(missing_ok=True)
