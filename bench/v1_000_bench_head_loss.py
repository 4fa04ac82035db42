"""The output head's loss, side by side: through autograd (logits kept or recomputed for the backward pass) against
`ftkit.loss.head_loss` (the gradient computed in the forward pass, chunk by chunk), for the cross-entropy alone
and with LwF's KL. Gemma-3 270M's shapes (262,144 x 640, bf16, softcap 30), random weights.

Run:
    python bench/v1_000_bench_head_loss.py                 # 512 positions, median of 3
    python bench/v1_000_bench_head_loss.py --positions 256

Prints the median seconds of a forward + backward of each, the ratios, and the relative difference of the
gradients (the two must agree).
"""

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from ftkit.loss import head_loss  # noqa: E402


def autograd_task_and_kl(hidden, teacher_hidden, weight, targets, softcap, temperature=1.0):
    """The same sums as head_loss, written for autograd (as the kit computed them before head_loss)."""
    logits = torch.tanh(F.linear(hidden, weight).float() / softcap) * softcap
    task = F.cross_entropy(logits, targets, reduction="sum")
    if teacher_hidden is None:
        return task, torch.zeros(())
    with torch.no_grad():
        teacher = torch.tanh(F.linear(teacher_hidden, weight).float() / softcap) * softcap
    kl = F.kl_div(F.log_softmax(logits / temperature, -1), F.log_softmax(teacher / temperature, -1),
                  log_target=True, reduction="sum")
    return task, kl


def autograd_loss(hidden, teacher_hidden, weight, targets, chunk, kl_scale):
    total = 0
    for start in range(0, hidden.shape[0], chunk):
        rows = slice(start, start + chunk)
        args = (hidden[rows], None if teacher_hidden is None else teacher_hidden[rows], weight, targets[rows], 30.0)
        # one chunk keeps its logits for the backward pass; several are recomputed there
        task, kl = (checkpoint(autograd_task_and_kl, *args, use_reentrant=False) if hidden.shape[0] > chunk
                    else autograd_task_and_kl(*args))
        total = total + task + kl_scale * kl
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=512, help="label positions in the batch")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    vocabulary, width, positions = 262_144, 640, args.positions
    weight = (torch.randn(vocabulary, width) * 0.02).bfloat16()
    hidden = torch.randn(positions, width).bfloat16().requires_grad_()
    teacher = torch.randn(positions, width).bfloat16()
    targets = torch.randint(0, vocabulary, (positions,))
    ones = torch.ones(positions)
    contenders = {
        "cross-entropy, autograd (one chunk of 1024 kept)": lambda: autograd_loss(hidden, None, weight, targets,
                                                                                  1024, 0),
        "cross-entropy, head_loss (chunks of 512)": lambda: head_loss(hidden, weight, targets, 30.0, 512)[0],
        "cross-entropy + KL, autograd (chunks of 256 recomputed)": lambda: autograd_loss(hidden, teacher, weight,
                                                                                         targets, 256, 0.5),
        "cross-entropy + KL, head_loss (chunks of 256)": lambda: head_loss(hidden, weight, targets, 30.0, 256,
                                                                           teacher_hidden=teacher,
                                                                           kl_weight=ones, kl_scale=0.5)[0],
    }
    seconds, gradients = {name: [] for name in contenders}, {}
    for _ in range(args.repeats + 1):  # the first round warms up and is not counted
        for name, loss in contenders.items():
            hidden.grad = None
            started = time.perf_counter()
            loss().backward()
            seconds[name].append(time.perf_counter() - started)
            gradients[name] = hidden.grad.float().clone()
    median = {name: sorted(times[1:])[len(times[1:]) // 2] for name, times in seconds.items()}
    for name, value in median.items():
        print(f"{name:58s} {value:7.3f} s")
    names = list(contenders)
    for old, new in ((names[0], names[1]), (names[2], names[3])):
        difference = (gradients[old] - gradients[new]).norm() / gradients[old].norm()
        print(f"{new.split(',')[0]}: head_loss is {median[old] / median[new]:.2f}x as fast; gradients differ by "
              f"{difference:.1e} (relative)")


if __name__ == "__main__":
    main()
