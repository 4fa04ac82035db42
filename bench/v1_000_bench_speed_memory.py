"""Speed and memory of our trainer against a stock TRL SFTTrainer run, side by side in one run.

Run:
    python bench/v1_000_bench_speed_memory.py                 # real Gemma-3 270M, bundled data, 16 steps each
    python bench/v1_000_bench_speed_memory.py --steps 4       # quicker look

All runs start from the same base model, LoRA settings (r=16, alpha=32, all linear layers), seed, learning
rate schedule and data, and take the same number of optimizer steps holding about the same number of samples:
  trl         trl.SFTTrainer + peft with TRL's defaults: batches of 8 samples padded to the longest, no
              packing, gradient checkpointing on, prompt-completion data so the loss is on the answer (TRL 1.16
              already applies the output head to the label positions only, in chunks: `add_fused_lm_head`);
  trl_packed  the same with TRL's strongest setting for a CPU: packing=True, padding_free=True (packed rows of
              512 tokens, no padding, position ids restarting at each sample);
  ours        ftkit's trainer as the default run trains: packed rows of 512 tokens, loss head on label tokens
              only in chunks, --precision auto, in bf16 torch.compile of the decoder layers (its compile time
              is shown apart and left out of tokens/s, as in the default run); gradient accumulation set so
              that a step holds as many samples as TRL's;
  ours_fp32   the same in fp32, uncompiled as --compile auto leaves it (what a CPU without bf16 units trains).
The TRL runs train in the precision --precision auto chooses too. Each run is a child process, so the peak
resident memory of one does not hide the other's. Printed and written to bench/results/ (JSON, Markdown and a
bar chart): non-padding tokens/s, peak memory, the validation loss of every adapter (the same function on the
same samples), the ratios to TRL's packed run, and the achieved model FLOP/s against the matrix-product FLOP/s
of the dtype each run used, measured here in the same run.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "src"))

from ftkit import DEFAULT_DATASET_DIR, DEFAULT_MODEL_DIR  # noqa: E402
from ftkit.files import write_json, write_text_atomic  # noqa: E402
from ftkit.text_tables import comma_list, markdown_table  # noqa: E402

BASELINE_BATCH_SIZE = 8  # TRL's default per_device_train_batch_size
RUNS = {  # child name -> column title
    "trl": "TRL SFTTrainer (defaults)",
    "trl_packed": "TRL packing + padding_free",
    "ours": "ours (defaults)",
    "ours_fp32": "ours, fp32",
}
REFERENCE = "trl_packed"  # ratios are to TRL's best setting


def parse_args(args=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="base model directory")
    parser.add_argument("--train-file", default=str(DEFAULT_DATASET_DIR / "train.jsonl"))
    parser.add_argument("--validation-file", default=str(DEFAULT_DATASET_DIR / "validation.jsonl"))
    parser.add_argument("--validation-samples", type=int, default=40, help="validation samples for the final loss")
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps of each run")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"which runs, of: {', '.join(RUNS)}")
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="auto", help="auto | cuda | cpu")
    parser.add_argument("--out-dir", default=str(REPO_ROOT / "bench" / "results"))
    parser.add_argument("--child", choices=list(RUNS), help=argparse.SUPPRESS)
    parser.add_argument("--child-output", help=argparse.SUPPRESS)
    return parser.parse_args(args)


# ----------------------------------------------------------------------------------------- child processes


def prepare(args, precision="auto"):
    """Device, dtype, tokenizer and the samples every run trains on."""
    import torch

    from ftkit.base_model import ensure_base_model
    from ftkit.data import load_samples
    from ftkit.formatting import ensure_chat_template
    from ftkit.modeling import load_tokenizer, pick_device, pick_dtype

    torch.manual_seed(args.seed)
    device = pick_device(args.device, log=lambda _: None)
    dtype = pick_dtype(device, precision, log=lambda _: None)
    model_dir = ensure_base_model(args.model)
    tokenizer = load_tokenizer(model_dir)
    ensure_chat_template(tokenizer, log=lambda _: None)
    train_samples = load_samples(args.train_file)[: args.steps * BASELINE_BATCH_SIZE]
    validation_samples = load_samples(args.validation_file)[: args.validation_samples]
    return device, dtype, model_dir, tokenizer, train_samples, validation_samples


def new_lora_model(model_dir, device, dtype, seed, gradient_checkpointing):
    import torch

    from ftkit.modeling import attach_lora, load_base_model

    torch.manual_seed(seed)
    model = load_base_model(model_dir, device, dtype)
    return attach_lora(model, 16, 32, 0.0, "all-linear", qlora=False, gradient_checkpointing=gradient_checkpointing)


def validation_loss(model, tokenizer, validation_samples, device):
    """The same measure for both adapters: mean loss per answer token, our label-only evaluation."""
    from ftkit.formatting import encode_all, make_token_micro_batches
    from ftkit.trainer import evaluate_loss

    encoded, _ = encode_all(validation_samples, tokenizer, 1024, False, "skip")
    return evaluate_loss(model, make_token_micro_batches(encoded, 512, True, 512, 0), tokenizer.pad_token_id, device)


def run_trl(args, packed=False):
    """Stock TRL SFTTrainer with its defaults (or packing + padding_free); only the shared settings are ours."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    device, dtype, model_dir, tokenizer, train_samples, validation_samples = prepare(args)
    records = [{"prompt": s.messages[:-1], "completion": s.messages[-1:]} for s in train_samples]
    from peft import LoraConfig

    from ftkit.modeling import load_base_model

    model = load_base_model(model_dir, device, dtype)
    memory_after_load = peak_memory(device)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    rows, samples_per_row = packed_rows_per_step(tokenizer, train_samples)  # packed: rows of 512 per step
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="bench-sft-"), max_steps=args.steps, learning_rate=args.learning_rate,
        lr_scheduler_type="cosine", warmup_steps=0.1, seed=args.seed, save_strategy="no", report_to=[],
        logging_steps=1, bf16=dtype == torch.bfloat16, use_cpu=device == "cpu", disable_tqdm=True,
        **(dict(packing=True, padding_free=True, max_length=512, per_device_train_batch_size=rows) if packed else {}),
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(records), processing_class=tokenizer,
                         peft_config=lora)
    counted = {"tokens": 0, "label_tokens": 0}
    collate = trainer.data_collator

    def counting_collator(examples):  # counts the real (non-padding) tokens the trainer is given
        batch = collate(examples)
        real = (batch["attention_mask"] if "attention_mask" in batch
                else batch["input_ids"] != -1)  # padding-free: all real
        counted["tokens"] += int(real.sum())
        counted["label_tokens"] += int((batch["labels"][:, 1:] != -100).sum())
        return batch

    trainer.data_collator = counting_collator  # the dataloader is built in train(), with this collator
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    model = trainer.model
    return {
        "name": RUNS["trl_packed" if packed else "trl"], "device": device, "dtype": str(dtype), "steps": args.steps,
        "seconds": seconds, **counted, "final_train_loss": sum(losses[-4:]) / len(losses[-4:]),
        "validation_loss": validation_loss(model, tokenizer, validation_samples, device),
        "memory_after_load": memory_after_load, "peak_memory": peak_memory(device),
        "gradient_checkpointing": config.gradient_checkpointing, "compile_seconds": 0.0,
        "samples_per_step": round(rows * samples_per_row, 2) if packed else BASELINE_BATCH_SIZE,
    }


def packed_rows_per_step(tokenizer, train_samples) -> tuple[int, float]:
    """Packed 512-token rows per step that hold about BASELINE_BATCH_SIZE samples (so that every run's step sees
    as many samples), and the samples per row."""
    from ftkit.formatting import encode_all, pack

    encoded, _ = encode_all(train_samples, tokenizer, 512, False, "skip")
    samples_per_row = len(encoded) / len(pack(encoded, 512))
    return max(1, round(BASELINE_BATCH_SIZE / samples_per_row)), samples_per_row


def run_ours(args, precision="auto"):
    """ftkit's trainer as the default run trains (packing, 512-token micro-batches, compiled decoder layers)."""
    import torch

    from ftkit.compiling import compile_with_fallback
    from ftkit.formatting import collate, encode_all, make_token_micro_batches
    from ftkit.loss import label_token_loss_sum
    from ftkit.modeling import needs_gradient_checkpointing
    from ftkit.trainer import WIDTH_MULTIPLE, move, train

    device, dtype, model_dir, tokenizer, train_samples, validation_samples = prepare(args, precision)
    encoded, _ = encode_all(train_samples, tokenizer, 512, False, "skip")
    micro_batches = make_token_micro_batches(encoded, 512, True, 512, args.seed)
    samples_per_micro_batch = len(encoded) / len(micro_batches)
    accumulation = max(1, round(BASELINE_BATCH_SIZE / samples_per_micro_batch))
    from transformers import AutoConfig

    # the script's automatic choice
    checkpointing = needs_gradient_checkpointing(AutoConfig.from_pretrained(model_dir), 512, device, dtype,
                                                 log=lambda _: None)
    model = new_lora_model(model_dir, device, dtype, args.seed, checkpointing)
    memory_after_load = peak_memory(device)

    def forward_backward(rows):
        loss_sum, label_tokens = label_token_loss_sum(model, move(collate(rows, tokenizer.pad_token_id, WIDTH_MULTIPLE),
                                                                  device))
        (loss_sum / label_tokens).backward()

    started = time.perf_counter()  # as the script's --compile auto does for a long run: bf16 compiled before the steps
    compiled = dtype == torch.bfloat16 and compile_with_fallback(model, micro_batches[:2], forward_backward)
    compile_seconds = time.perf_counter() - started
    result = train(model, micro_batches, learning_rate=args.learning_rate, warmup_ratio=0.1,
                   gradient_accumulation=accumulation, epochs=1, max_steps=args.steps, max_grad_norm=1.0,
                   weight_decay=0.0, pad_token_id=tokenizer.pad_token_id, device=device, seed=args.seed)
    tail = result.history[-4:]
    return {
        "name": RUNS["ours" if precision == "auto" else "ours_fp32"], "device": device, "dtype": str(dtype),
        "steps": result.steps,
        "seconds": result.seconds, "tokens": result.train_tokens, "label_tokens": result.label_tokens,
        "final_train_loss": sum(h["loss"] for h in tail) / len(tail),
        "validation_loss": validation_loss(model, tokenizer, validation_samples, device),
        "memory_after_load": memory_after_load, "peak_memory": peak_memory(device),
        "gradient_checkpointing": checkpointing, "samples_per_step": round(samples_per_micro_batch * accumulation, 2),
        "compile_seconds": compile_seconds if compiled else 0.0,
    }


def peak_memory(device) -> int:
    """Peak GPU memory allocated on a GPU, else the process's peak resident memory, in bytes."""
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


# ---------------------------------------------------------------------------------------- the comparison


def measured_matmul_flops(device, dtype) -> float:
    """FLOP/s of a large matrix product in `dtype` (2 warm-up products first), as this machine runs it now."""
    import torch

    size = 8192 if device == "cuda" else 2048
    a, b = torch.randn(size, size, dtype=dtype, device=device), torch.randn(size, size, dtype=dtype, device=device)
    repeats = 20 if device == "cuda" else 5
    for _ in range(2):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def model_flops(run, model_dir) -> float:
    """Useful FLOPs of a LoRA step on a frozen base, counted the same way for both runs.

    Per real token the decoder costs 2N forward and about 2N backward (gradients of the activations only, the
    base weights are frozen), N = decoder parameters without the embedding table (a lookup, no product). The
    output head (hidden x vocabulary) is useful only where a label is: 2·d·V forward + 2·d·V backward per label
    token. LoRA's own products (under 1%) and the attention scores (about 1% at these lengths) are left out.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    config = getattr(config, "text_config", config)
    hidden, layers = config.hidden_size, config.num_hidden_layers
    head_dim = getattr(config, "head_dim", None) or hidden // config.num_attention_heads
    attention = hidden * head_dim * (2 * config.num_attention_heads + 2 * config.num_key_value_heads)
    mlp = 3 * hidden * config.intermediate_size
    decoder_parameters = layers * (attention + mlp)
    return 4 * decoder_parameters * run["tokens"] + 4 * hidden * config.vocab_size * run["label_tokens"]


def compare(args):
    import torch

    from ftkit.modeling import pick_device

    device = pick_device(args.device, log=lambda _: None)
    runs = {}
    chosen = comma_list(args.runs)
    unknown = sorted(set(chosen) - set(RUNS))
    if unknown or not chosen:
        raise SystemExit(f"error: --runs {args.runs}: expected names from {', '.join(RUNS)}")
    with tempfile.TemporaryDirectory() as scratch:
        for name in chosen:
            output = Path(scratch) / f"{name}.json"
            command = [sys.executable, __file__, "--child", name, "--child-output", str(output), *sys.argv[1:]]
            print(f"[bench] {name} run ({args.steps} steps)...", flush=True)
            subprocess.run(command, check=True)
            runs[name] = json.loads(output.read_text(encoding="utf-8"))
    dtypes = {run["dtype"] for run in runs.values()}
    matmul = {dtype: measured_matmul_flops(device, getattr(torch, dtype.replace("torch.", "")))
              for dtype in sorted(dtypes)}
    for run in runs.values():
        run["tokens_per_second"] = run["tokens"] / run["seconds"]
        run["model_flops_per_second"] = model_flops(run, args.model) / run["seconds"]
        run["share_of_matmul_flops"] = run["model_flops_per_second"] / matmul[run["dtype"]]
    reference = runs.get(REFERENCE) or next(iter(runs.values()))
    measures = ("tokens_per_second", "peak_memory", "validation_loss", "final_train_loss")
    ratios = {name: {measure: run[measure] / reference[measure] for measure in measures} for name, run in runs.items()}
    machine = torch.cuda.get_device_name() if device == "cuda" else f"{cpu_name()}, {torch.get_num_threads()} threads"
    report = {"date": time.strftime("%Y-%m-%d"), "machine": machine, "matmul_flops_per_second": matmul,
              "reference": reference["name"], "settings": vars(args), "runs": runs, "ratios": ratios}
    table = report_table(report)
    print(table)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"speed_memory_{device}"
    # keep_mode: results that others read (a shared checkout, a container) stay readable as a plain write left them
    write_json(out_dir / f"{stem}.json", report, keep_mode=True)
    write_text_atomic(out_dir / f"{stem}.md", table, keep_mode=True)
    bar_chart(report, out_dir / f"{stem}.png")
    print(f"[bench] written to {out_dir / stem}.json, .md and .png")
    return report


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "CPU"


def bar_chart(report, path: Path) -> None:
    """tokens/s and peak memory of each run, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = report["runs"]
    names = [run["name"] for run in runs.values()]
    fig, (speed, memory) = plt.subplots(1, 2, figsize=(11, 4))
    speed.bar(names, [run["tokens_per_second"] for run in runs.values()], color="tab:blue")
    speed.set_title("tokens/s (non-padding, higher is better)")
    memory.bar(names, [run["peak_memory"] / 2**30 for run in runs.values()], color="tab:orange")
    memory.set_title("peak memory, GiB (lower is better)")
    for axis in (speed, memory):
        axis.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.suptitle(f"{report['machine']}, {report['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_table(report) -> str:
    runs, ratios = report["runs"], report["ratios"]
    memory_kind = "peak GPU memory" if next(iter(runs.values()))["device"] == "cuda" else "peak resident memory"
    rows = [
        ("tokens/s (non-padding)", lambda r: f"{r['tokens_per_second']:.1f}", "tokens_per_second"),
        (f"{memory_kind} (GiB)", lambda r: f"{r['peak_memory'] / 2**30:.2f}", "peak_memory"),
        ("peak memory during model load (GiB)", lambda r: f"{r['memory_after_load'] / 2**30:.2f}", None),
        ("validation loss (same samples, same measure)", lambda r: f"{r['validation_loss']:.4f}", "validation_loss"),
        ("train loss, mean of last 4 steps", lambda r: f"{r['final_train_loss']:.4f}", "final_train_loss"),
        ("optimizer steps", lambda r: str(r["steps"]), None),
        ("samples per step", lambda r: str(r["samples_per_step"]), None),
        ("tokens / of which carry loss", lambda r: f"{r['tokens']} / {r['label_tokens']}", None),
        ("gradient checkpointing", lambda r: str(r["gradient_checkpointing"]), None),
        ("dtype", lambda r: r["dtype"].replace("torch.", ""), None),
        ("compile time before the steps (s)", lambda r: f"{r['compile_seconds']:.0f}", None),
        ("model FLOP/s (4N per token + head on labels)", lambda r: f"{r['model_flops_per_second'] / 1e9:.1f} G", None),
        ("share of the measured matmul FLOP/s of its dtype", lambda r: f"{100 * r['share_of_matmul_flops']:.1f}%",
         None),
    ]
    peaks = ", ".join(f"{dtype.replace('torch.', '')} {flops / 1e9:.0f} GFLOP/s"
                      for dtype, flops in report["matmul_flops_per_second"].items())
    def cell(name, run, value, measure):
        shown_ratio = measure and name != REFERENCE and REFERENCE in runs
        return value(run) + (f" ({ratios[name][measure]:.2f}x)" if shown_ratio else "")

    header = ["", *(run["name"] for run in runs.values())]
    cells = [[label, *(cell(name, run, value, measure) for name, run in runs.items())]
             for label, value, measure in rows]
    table = markdown_table(header, cells, align="l" * len(header))
    return (f"Measured {report['date']} on {report['machine']}; matrix-product peak (2048³) measured here: {peaks}\n\n"
            f"{table}\n\n(x): ratio to {report['reference']}.\n")


def main():
    args = parse_args()
    if args.child:
        if args.child.startswith("trl"):
            run = run_trl(args, packed=args.child == "trl_packed")
        else:
            run = run_ours(args, precision="fp32" if args.child == "ours_fp32" else "auto")
        write_json(Path(args.child_output), run)
    else:
        compare(args)


if __name__ == "__main__":
    main()
