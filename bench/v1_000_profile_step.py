"""Where the time of a training step goes: torch.profiler over real default-run steps, by kind of work.

Run:
    python bench/v1_000_profile_step.py                    # bf16 and fp32, eager, then the compiled step times
    python bench/v1_000_profile_step.py --precisions fp32 --steps 3

For each precision it loads the default base model with the training script's LoRA settings, warms up on two
micro-batches, profiles `--steps` steps of the real trainer's work (forward, chunked loss, backward, clipping,
AdamW) on packed 512-token micro-batches of the bundled training data, and sorts the operators' own CPU time
into kinds: the frozen decoder's matrix products, LoRA's thin products (rank r), the output head (its product,
log-softmax and cross-entropy), attention (SDPA), element-wise work (casts, norms, rotary, LoRA scaling,
activations: what torch.compile fuses), the optimizer and the rest. Then it times the same steps with the
decoder layers compiled, side by side. Prints a Markdown table and writes it with JSON to bench/results/.
"""

import argparse
import collections
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "src"))

from ftkit import DEFAULT_DATASET_DIR, DEFAULT_MODEL_DIR  # noqa: E402
from ftkit.files import write_json, write_text_atomic  # noqa: E402
from ftkit.text_tables import comma_list, markdown_table  # noqa: E402

ELEMENTWISE = {"aten::copy_", "aten::mul", "aten::add", "aten::add_", "aten::mul_", "aten::div", "aten::pow",
               "aten::rsqrt", "aten::mean", "aten::neg", "aten::cat", "aten::gelu", "aten::gelu_backward", "aten::sum",
               "aten::fill_", "aten::where", "aten::tanh", "aten::_to_copy", "aten::zero_", "aten::sub", "aten::cos",
               "aten::sin", "aten::clone", "aten::empty_strided", "aten::empty", "aten::embedding_dense_backward"}


def parse_args(args=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--train-file", default=str(DEFAULT_DATASET_DIR / "train.jsonl"))
    parser.add_argument("--precisions", default="bf16,fp32", help="comma-separated: bf16, fp32")
    parser.add_argument("--steps", type=int, default=4, help="profiled steps per precision")
    parser.add_argument("--out-dir", default=str(REPO_ROOT / "bench" / "results"))
    return parser.parse_args(args)


def setup(args, precision):
    import torch

    from ftkit.base_model import ensure_base_model
    from ftkit.data import load_samples
    from ftkit.formatting import encode_all, ensure_chat_template, make_token_micro_batches
    from ftkit.modeling import attach_lora, load_base_model, load_tokenizer, pick_dtype

    model_dir = ensure_base_model(args.model)
    tokenizer = load_tokenizer(model_dir)
    ensure_chat_template(tokenizer, log=lambda _: None)
    encoded, _ = encode_all(load_samples(args.train_file), tokenizer, 512, False, "skip")
    micro_batches = make_token_micro_batches(encoded, 512, True, 512, 42)
    torch.manual_seed(0)
    model = load_base_model(model_dir, "cpu", pick_dtype("cpu", precision, log=lambda _: None))
    model = attach_lora(model, 16, 32, 0.0, "auto", qlora=False, gradient_checkpointing=False)
    return model, tokenizer, micro_batches


def make_step(model, tokenizer, micro_batches):
    import torch

    from ftkit.formatting import collate, row_length
    from ftkit.loss import label_token_loss_sum
    from ftkit.trainer import WIDTH_MULTIPLE

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=5e-4)
    model.train()

    def step(index) -> int:
        rows = micro_batches[index % len(micro_batches)]
        loss_sum, label_tokens = label_token_loss_sum(model, collate(rows, tokenizer.pad_token_id, WIDTH_MULTIPLE))
        (loss_sum / label_tokens).backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return sum(row_length(row) for row in rows)

    return step


def kind_of(name: str, shapes: str, rank: int, vocabulary: int) -> str:
    if name in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul"):
        if str(vocabulary) in shapes:
            return "output head: product"
        if f", {rank}]" in shapes or f"[{rank}, " in shapes:
            return "LoRA thin products"
        return "decoder products (frozen)"
    if "log_softmax" in name or "nll_loss" in name or "cross_entropy" in name:
        return "output head: log-softmax / cross-entropy"
    if "scaled_dot_product" in name or "flash_attention" in name:
        return "attention (SDPA, block-diagonal mask)"
    if "Optimizer" in name or "lerp" in name or "_foreach" in name or "addcdiv" in name or "sqrt" in name:
        return "optimizer (AdamW) and clipping"
    if name in ELEMENTWISE:
        return "element-wise (casts, norms, rotary, scaling, GELU)"
    return "other"


def profile(args, precision) -> dict:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model, tokenizer, micro_batches = setup(args, precision)
    step = make_step(model, tokenizer, micro_batches)
    for index in range(2):  # warm-up: oneDNN builds its kernels on a shape's first use
        step(index)
    with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        started, tokens = time.perf_counter(), 0
        for index in range(2, 2 + args.steps):
            tokens += step(index)
        eager_seconds = time.perf_counter() - started
    kinds = collections.Counter()
    for event in prof.key_averages(group_by_input_shape=True):
        kinds[kind_of(event.key, str(event.input_shapes), 16, model.config.vocab_size)] += event.self_cpu_time_total
    total = sum(kinds.values())

    from ftkit.compiling import compile_decoder_layers, uncompile_decoder_layers

    compile_started = time.perf_counter()
    compile_decoder_layers(model)
    for index in range(2, 2 + args.steps):  # compiles (static shapes, then dynamic) on the very steps timed below
        step(index)
    compile_seconds = time.perf_counter() - compile_started
    started, compiled_tokens = time.perf_counter(), 0
    for index in range(2, 2 + args.steps):
        compiled_tokens += step(index)
    compiled_seconds = time.perf_counter() - started
    uncompile_decoder_layers(model)
    return {
        "precision": precision,
        "share": {kind: value / total for kind, value in kinds.most_common()},
        "eager_seconds_per_step": eager_seconds / args.steps,
        "eager_tokens_per_second": tokens / eager_seconds,
        "compiled_seconds_per_step": compiled_seconds / args.steps,
        "compiled_tokens_per_second": compiled_tokens / compiled_seconds,
        "compile_seconds": compile_seconds,
    }


def markdown(results, machine) -> str:
    kinds = list(dict.fromkeys(kind for result in results for kind in result["share"]))
    rows = [[kind, *(f"{100 * r['share'].get(kind, 0):.1f}%" for r in results)] for kind in kinds]
    rows.append(["**eager: s per step / tokens/s**",
                 *(f"{r['eager_seconds_per_step']:.2f} / {r['eager_tokens_per_second']:.0f}" for r in results)])
    rows.append(["**compiled decoder layers: s per step / tokens/s**",
                 *(f"{r['compiled_seconds_per_step']:.2f} / {r['compiled_tokens_per_second']:.0f} "
                   f"({r['compiled_tokens_per_second'] / r['eager_tokens_per_second']:.2f}x)" for r in results)])
    rows.append(["compile time (s)", *(f"{r['compile_seconds']:.0f}" for r in results)])
    header = ["", *(r["precision"] for r in results)]
    return (f"Measured {time.strftime('%Y-%m-%d')} on {machine}: share of the operators' own CPU time in an eager "
            "training step (packed 512-token rows of the bundled data, LoRA r=16 on all projections)\n\n"
            + markdown_table(header, rows, align="l" * len(header)) + "\n")


def main():
    args = parse_args()
    import torch

    sys.path.insert(0, str(REPO_ROOT / "bench"))
    from v1_000_bench_speed_memory import cpu_name

    machine = f"{cpu_name()}, {torch.get_num_threads()} threads"
    results = []
    for precision in comma_list(args.precisions):
        print(f"[profile] {precision}: {args.steps} steps eager (profiled), then compiled...", flush=True)
        results.append(profile(args, precision))
    table = markdown(results, machine)
    print(table)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # keep_mode: results that others read (a shared checkout, a container) stay readable as a plain write left them
    write_text_atomic(out_dir / "profile_step_cpu.md", table, keep_mode=True)
    write_json(out_dir / "profile_step_cpu.json", {"machine": machine, "results": results}, keep_mode=True)
    print(f"[profile] written to {out_dir / 'profile_step_cpu.md'} and .json")


if __name__ == "__main__":
    main()
