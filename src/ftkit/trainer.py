"""The training loop: AdamW on the LoRA weights, cosine schedule with warmup, gradient accumulation.

Why a loop of our own rather than `transformers.Trainer` / `trl.SFTTrainer`: it computes the loss on label
tokens only (see loss.py), which is most of the speed on a CPU, it never writes a checkpoint (disk matters),
and its progress line shows what a person waits for (loss, tokens/s, ETA). Everything else is the libraries':
the optimizer and schedule from torch/transformers, the adapters from peft.
"""

import contextlib
import gc
import math
import random
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .compiling import eager
from .distributed import Processes
from .errors import KitError
from .formatting import IGNORE_INDEX, collate, row_length
from .loss import label_token_loss_sum

# Rows are padded to a multiple of this many tokens: on a CPU oneDNN builds its matrix-product kernels for each
# new shape on first use (about 10 ms a shape, dozens of shapes a step), so few distinct widths save more time
# than the padding costs (on average 16 tokens of a 512-token row, 3%). Padding carries no loss.
WIDTH_MULTIPLE = 32


@dataclass
class TrainResult:
    history: list = field(default_factory=list)  # one dict per optimizer step
    steps: int = 0
    train_tokens: int = 0  # real tokens seen (no padding)
    label_tokens: int = 0  # of which carried a loss
    seconds: float = 0.0
    final_train_loss: float = float("nan")
    micro_batch_split: int = 1  # > 1 when out-of-memory errors made the trainer cut its micro-batches
    processes: int = 1  # processes that trained together (accelerate launch); each step took micro-batches from all


def plan_steps(num_micro_batches: int, gradient_accumulation: int, epochs: float, max_steps: int) -> int:
    """Optimizer steps of the run: `max_steps` when set (as in transformers' Trainer), else `epochs` passes."""
    if max_steps > 0:
        return max_steps
    return math.ceil(math.ceil(num_micro_batches / gradient_accumulation) * epochs)


def move(batch: dict, device) -> dict:
    return {key: value.to(device) for key, value in batch.items()}


def train(model, micro_batches, *, learning_rate, warmup_ratio, gradient_accumulation, epochs, max_steps,
          max_grad_norm, weight_decay, pad_token_id, device, seed, min_learning_rate_ratio=0.0, log=print,
          loss_fn=label_token_loss_sum, after_step=None, checkpoint=None, on_step=None, processes=None,
          loraplus_lr_ratio=0.0):
    """Train `model` (its trainable parameters) on `micro_batches` (lists of rows from `make_micro_batches`).

    `loss_fn(model, batch)` returns (loss summed over label tokens, label tokens) and optionally a dict of
    named parts of that sum (task loss, distillation KL), which are logged per token beside the loss.
    `after_step(step)` runs after each optimizer step (validation, say) and returns True to stop early.
    `checkpoint` (a RollingCheckpoint) saves the whole training state every few steps and, when it holds one,
    resumes from it; without it nothing is written to disk.
    `on_step(record)` receives each step's history record (step, loss, learning_rate, grad_norm, tokens,
    seconds): for experiment tracking or a live plot in a notebook. It cannot stop the run.
    `processes` (ftkit.distributed; one process when not given): under `accelerate launch`, each optimizer
    step is `gradient_accumulation` micro-batches from each of the processes, and only rank 0 shows progress,
    calls `after_step` / `on_step` and saves checkpoints; its decision to stop early is shared with the others.
    `loraplus_lr_ratio` above 0 trains the LoRA B matrices at that multiple of the learning rate (LoRA+, see
    `make_optimizer`); the logged learning rate stays that of A.
    """
    from transformers import get_cosine_with_min_lr_schedule_with_warmup

    processes = processes or Processes()  # one process unless the caller passes those `accelerate launch` started
    step_size = gradient_accumulation * processes.world_size  # micro-batches per optimizer step, all processes
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(model, trainable, learning_rate, weight_decay, loraplus_lr_ratio)
    total_steps = plan_steps(len(micro_batches), step_size, epochs, max_steps)
    scheduler = get_cosine_with_min_lr_schedule_with_warmup(
        optimizer,
        num_warmup_steps=round(warmup_ratio * total_steps),
        num_training_steps=total_steps,
        min_lr_rate=min_learning_rate_ratio,
    )
    result = TrainResult(processes=processes.world_size)
    model.train()
    step_iterator = optimizer_steps(micro_batches, step_size, random.Random(seed))
    split = 1  # after an out-of-memory error each micro-batch is cut into this many parts
    first_step = 1
    if checkpoint is not None and processes.uses_deepspeed:
        raise KitError("--save_every / --resume do not work under DeepSpeed (its engine partitions the optimizer "
                       "state); drop them, or launch without DeepSpeed (accelerate_ddp.yaml)")
    if checkpoint is not None and checkpoint.exists():
        first_step, split = checkpoint.restore(model, optimizer, scheduler, result, after_step)
        if result.processes != processes.world_size:  # the data order of a step depends on it
            raise KitError(f"--resume: the run was started with {result.processes} process(es), "
                           f"now {processes.world_size}; "
                           "resume it with the same number")
        for _ in range(first_step - 1):  # the data order is seeded: skip the groups already trained on
            next(step_iterator)
        log(f"[resume] continuing at step {first_step} of {total_steps}")
    step_loss = None
    if processes.several:
        step_loss, optimizer = processes.prepare(model, optimizer, loss_fn, max_grad_norm)
        log(f"[train] {processes.describe()}: each optimizer step takes {gradient_accumulation} micro-batch(es) "
            f"from each process, {step_size} in all")
    progress = tqdm(total=total_steps, initial=first_step - 1, desc="train", unit="step", dynamic_ncols=True,
                    disable=not processes.is_main)
    started = time.perf_counter() - result.seconds
    for step in range(first_step, total_steps + 1):
        group = next(step_iterator)
        result.train_tokens += sum(row_length(row) for rows in group for row in rows)
        if processes.several:
            loss_sum, step_label_tokens, parts, grad_norm = step_across_processes(
                step_loss, optimizer, trainable, group, pad_token_id, device, step, max_grad_norm, processes)
        else:
            loss_sum, step_label_tokens, parts, split = gradients_with_oom_recovery(
                model, optimizer, group, split, pad_token_id, device, step, loss_fn)
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm).item()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        result.label_tokens += step_label_tokens
        scheduler.step()
        elapsed = time.perf_counter() - started
        loss = loss_sum / step_label_tokens
        parts = {name: value / step_label_tokens for name, value in parts.items()}
        result.history.append({"step": step, "loss": loss, **parts, "learning_rate": scheduler.get_last_lr()[0],
                               "grad_norm": grad_norm, "tokens": result.train_tokens, "seconds": round(elapsed, 2)})
        progress.set_postfix(loss=f"{loss:.4f}", **{name: f"{value:.4f}" for name, value in parts.items()},
                             lr=f"{scheduler.get_last_lr()[0]:.2e}", tok_s=f"{result.train_tokens / elapsed:.0f}")
        progress.update(1)
        if on_step and processes.is_main:
            on_step(result.history[-1])
        result.steps, result.seconds, result.micro_batch_split = step, elapsed, split
        stop = bool(after_step and processes.is_main and after_step(step))  # rank 0 validates
        stop = processes.share(stop)
        if checkpoint is not None and checkpoint.due(step) and step < total_steps and not stop and processes.is_main:
            checkpoint.save(step, split, model, optimizer, scheduler, result, after_step)
        if stop:
            break
    progress.close()
    result.seconds = time.perf_counter() - started
    tail = result.history[-10:]  # the mean of the last steps, less noisy than the last one alone
    result.final_train_loss = sum(h["loss"] for h in tail) / len(tail)
    return result


def make_optimizer(model, trainable, learning_rate, weight_decay, loraplus_lr_ratio=0.0):
    """AdamW on the trainable parameters; with `loraplus_lr_ratio` > 0, peft's LoRA+ optimizer (Hayou et al.,
    2024): the same AdamW, with B (and one-dimensional parameters such as DoRA's magnitudes) in parameter groups
    at `loraplus_lr_ratio` times the learning rate. The schedule scales every group alike, so the ratio holds."""
    if not loraplus_lr_ratio:
        return torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=weight_decay)
    from peft.optimizers import create_loraplus_optimizer

    return create_loraplus_optimizer(model, torch.optim.AdamW, lr=learning_rate, loraplus_lr_ratio=loraplus_lr_ratio,
                                     weight_decay=weight_decay, loraplus_weight_decay=weight_decay)


@contextlib.contextmanager
def neftune_noise(model, noise_alpha: float):
    """NEFTune (Jain et al., 2023) inside the `with` block: uniform noise in [-a, a], a = alpha / sqrt(L * d)
    (L tokens of the row, d the hidden size), added to the input embeddings in training mode only, as
    transformers' Trainer and TRL do it (a forward hook on the embedding layer). Evaluation and generation run
    the model in eval mode, so they see no noise; the hook is removed on leaving, before anything is saved.
    `noise_alpha` 0 adds nothing."""
    if not noise_alpha:
        yield
        return

    def add_noise(module, inputs, output):
        if not module.training:
            return output
        magnitude = noise_alpha / math.sqrt(output.size(-2) * output.size(-1))
        return output + torch.zeros_like(output).uniform_(-magnitude, magnitude)

    handle = model.get_input_embeddings().register_forward_hook(add_noise)
    try:
        yield
    finally:
        handle.remove()


def optimizer_steps(micro_batches, gradient_accumulation, rng):
    """Endless groups of `gradient_accumulation` micro-batches, reshuffled at each epoch."""
    while True:
        order = list(range(len(micro_batches)))
        rng.shuffle(order)
        for start in range(0, len(order), gradient_accumulation):
            yield [micro_batches[i] for i in order[start : start + gradient_accumulation]]


def gradients_with_oom_recovery(model, optimizer, group, split, pad_token_id, device, step,
                                loss_fn=label_token_loss_sum):
    """`accumulate_gradients`, retried with micro-batches halved (accumulation doubled) after out-of-memory.

    The effective batch stays the same, so the step's gradient does too; only the memory per forward pass
    shrinks. The halving is kept for the rest of the run. Returns (loss sum, label tokens, parts, split).
    """
    while True:
        try:
            return (*accumulate_gradients(model, group, split, pad_token_id, device, loss_fn), split)
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            optimizer.zero_grad(set_to_none=True)  # the step is redone from scratch
            free_memory()
            if max(len(rows) for rows in group) <= split:
                raise KitError(
                    f"out of memory with a micro-batch of a single row "
                    f"({max(row_length(row) for rows in group for row in rows)} tokens): lower "
                    "--max_seq_len, add --gradient_checkpointing or --qlora; see CLAUDE_memory_error.md") from None
            split *= 2
            tqdm.write(f"[memory] out of memory at step {step}: micro-batches halved and gradient accumulation "
                       f"doubled ({split}x the planned accumulation), same effective batch; retrying the step")


def accumulate_gradients(model, group, split, pad_token_id, device, loss_fn=label_token_loss_sum):
    """Forward and backward over one optimizer step's micro-batches, each cut into `split` parts.

    Normalised by the label tokens of the whole step, so that accumulation gives the same gradient as one big
    batch whatever the lengths (and the number) of the micro-batches. Returns (loss sum, label tokens, sums
    of the loss's named parts).
    """
    pieces = [part for rows in group for part in split_rows(rows, split)]
    batches = [collate(rows, pad_token_id, WIDTH_MULTIPLE) for rows in pieces]
    step_label_tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in batches)
    loss_sum, parts = 0.0, {}
    for batch in batches:
        batch_loss_sum, _, *batch_parts = loss_fn(model, move(batch, device))
        (batch_loss_sum / step_label_tokens).backward()
        loss_sum += batch_loss_sum.item()
        for name, value in (batch_parts[0] if batch_parts else {}).items():
            parts[name] = parts.get(name, 0.0) + float(value)
    return loss_sum, step_label_tokens, parts


def step_across_processes(step_loss, optimizer, trainable, group, pad_token_id, device, step, max_grad_norm, processes):
    """One optimizer step with the group's micro-batches dealt out to the processes (rank r takes r, r+W, r+2W...).

    Every process holds the whole group (same seeded order), so each counts the label tokens of the whole step
    itself, with no communication, and scales its loss by W / that count: DDP and DeepSpeed average the
    gradients over the W processes, so the step's gradient is the sum over all its micro-batches divided by its
    label tokens, as in one process. All but the last backward of a process skip the reduction (`no_sync`). A
    process left without a micro-batch (the short last group of an epoch) runs one with weight 0, since every
    process must take part in the reduction. Returns (loss sum over all processes, label tokens, parts, grad norm).
    """
    accelerator = processes.accelerator
    share = group[processes.rank :: processes.world_size]
    weight = 1.0 if share else 0.0
    step_label_tokens = sum(int((collate(rows, pad_token_id)["labels"][:, 1:] != IGNORE_INDEX).sum()) for rows in group)
    batches = [collate(rows, pad_token_id, WIDTH_MULTIPLE) for rows in (share or group[:1])]
    loss_sum, parts = 0.0, {}
    try:
        for index, batch in enumerate(batches):
            last = index == len(batches) - 1
            accelerator.sync_gradients = last  # DeepSpeed: at the last backward the engine reduces, clips and steps
            with contextlib.nullcontext() if last else accelerator.no_sync(step_loss):
                batch_loss_sum, _, *batch_parts = step_loss(move(batch, device))
                accelerator.backward(batch_loss_sum * (weight * processes.world_size / step_label_tokens))
            loss_sum += weight * batch_loss_sum.item()
            for name, value in (batch_parts[0] if batch_parts else {}).items():
                parts[name] = parts.get(name, 0.0) + weight * float(value)
    except (RuntimeError, MemoryError) as error:
        if not is_out_of_memory(error):
            raise
        # No retry with smaller micro-batches here: the other processes are already inside the gradient reduction.
        raise KitError(f"out of memory at step {step} on process {processes.rank}: lower --micro_batch_tokens "
                       "(and raise --gradient_accumulation), add --gradient_checkpointing or --qlora; "
                       "see CLAUDE_memory_error.md") from None
    loss_sum, *part_sums = processes.sum([loss_sum, *parts.values()])
    parts = dict(zip(parts, part_sums))
    if processes.uses_deepspeed:
        grad_norm = accelerator.deepspeed_engine_wrapped.get_global_grad_norm()  # the engine has clipped and stepped
        grad_norm = float("nan") if grad_norm is None else float(grad_norm)
    else:
        grad_norm = torch.nn.utils.clip_grad_norm_(trainable, max_grad_norm).item()  # the same on every process
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return loss_sum, step_label_tokens, parts, grad_norm


def split_rows(rows: list, parts: int) -> list[list]:
    """`rows` cut into at most `parts` consecutive, non-empty pieces of near-equal size."""
    size = math.ceil(len(rows) / parts)
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or the CPU allocator's failure (when the kernel lets it fail rather than kill)."""
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    return "can't allocate memory" in str(error) or "not enough memory" in str(error)


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@torch.no_grad()
def evaluate_loss(model, micro_batches, pad_token_id, device) -> float:
    """Mean loss per label token over all `micro_batches`."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with eager(model):
        for rows in tqdm(micro_batches, desc="validation", unit="batch", dynamic_ncols=True, leave=False):
            loss_sum, tokens = label_token_loss_sum(model, move(collate(rows, pad_token_id, WIDTH_MULTIPLE), device))
            total += loss_sum.item()
            count += tokens
    model.train(was_training)
    return total / max(count, 1)
