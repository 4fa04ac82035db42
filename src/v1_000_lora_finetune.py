"""LoRA / QLoRA supervised fine-tuning of a small causal LM (default: Gemma-3 270M on the bundled extraction task).

Run:
    python src/v1_000_lora_finetune.py                      # defaults: one epoch, LoRA r=16 on all linear layers
    python src/v1_000_lora_finetune.py --qlora              # 4-bit NF4 base model (bitsandbytes), LoRA on top
    python src/v1_000_lora_finetune.py --help               # every setting

Writes one new folder src/output/<date-time>_<run_name>/ holding the adapter (safetensors), the tokenizer with
its chat template, run.json (settings, versions, data checksums), train_metrics.json and loss_curve.png. No
intermediate checkpoint is written. The folder appears under its final name only once everything is saved.
The base model directory is built from the packaged GGUF on first use when it is missing.
"""

import time
from dataclasses import dataclass, field
from typing import Optional

from ftkit import DEFAULT_DATASET_DIR, DEFAULT_MODEL_DIR, DEFAULT_OUTPUT_ROOT
from ftkit.base_model import ensure_base_model
from ftkit.data import load_samples
from ftkit.errors import KitError, exit_on_user_error
from ftkit.extraction_metrics import extraction_metrics
from ftkit.formatting import encode_all, ensure_chat_template, make_token_micro_batches
from ftkit.generation import generate_answers, prompts_and_references
from ftkit.modeling import (attach_lora, count_parameters, load_base_model, load_tokenizer, needs_gradient_checkpointing,
                            pick_device, pick_dtype)
from ftkit.reporting import save_loss_curve
from ftkit.runs import RunFolder, write_json
from ftkit.settings import check_choice, parse_settings, run_metadata
from ftkit.loss import label_token_loss_sum
from ftkit.trainer import evaluate_loss, train


@dataclass
class Settings:
    # data and model
    model: str = field(default=str(DEFAULT_MODEL_DIR), metadata={"help": "base model directory (built from the packaged GGUF when it is the default and missing)"})
    train_file: str = field(default=str(DEFAULT_DATASET_DIR / "train.jsonl"), metadata={"help": "training data, .jsonl or .json (chat, instruction, prompt/completion or text records)"})
    validation_file: str = field(default=str(DEFAULT_DATASET_DIR / "validation.jsonl"), metadata={"help": "validation data for the final validation loss; '' to skip"})
    output_dir: str = field(default=str(DEFAULT_OUTPUT_ROOT), metadata={"help": "folder that receives one new run folder per run"})
    run_name: str = field(default="lora", metadata={"help": "suffix of the run folder name"})
    # schedule
    epochs: float = field(default=1.0, metadata={"help": "passes over the training data"})
    max_steps: int = field(default=-1, metadata={"help": "number of optimizer steps, overriding --epochs when above 0"})
    learning_rate: float = field(default=5e-4, metadata={"help": "peak learning rate (cosine decay after linear warmup)"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of the steps spent warming up"})
    micro_batch_tokens: int = field(default=0, metadata={"help": "tokens per forward pass, padding included (0: --max_seq_len, one full packed row); memory follows tokens, not samples"})
    gradient_accumulation: int = field(default=1, metadata={"help": "micro-batches per optimizer step (effective batch = micro_batch_tokens x this)"})
    max_seq_len: int = field(default=512, metadata={"help": "tokens per row; longer samples are skipped or truncated (--too_long)"})
    packing: bool = field(default=True, metadata={"help": "pack several samples per row without cross-sample attention (--no_packing to pad instead)"})
    too_long: str = field(default="skip", metadata={"help": "what to do with samples over max_seq_len: skip | truncate"})
    train_on_all_tokens: bool = field(default=False, metadata={"help": "put loss on prompt tokens too (default: assistant/completion tokens only)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm"})
    seed: int = field(default=42, metadata={"help": "seed for LoRA initialisation and data order"})
    # LoRA
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale = alpha / r)"})
    lora_dropout: float = field(default=0.0, metadata={"help": "dropout on the LoRA input (0 by default: on a CPU its random masks cost about a tenth of the step time)"})
    lora_target_modules: str = field(default="all-linear", metadata={"help": "'all-linear' (every linear layer but the output head) or a list such as q_proj,v_proj"})
    eval_generate: int = field(default=0, metadata={"help": "after training, generate answers for the first N validation samples and record extraction metrics (0: off)"})
    # hardware
    qlora: bool = field(default=False, metadata={"help": "load the base model in 4-bit NF4 with double quantization (bitsandbytes)"})
    precision: str = field(default="auto", metadata={"help": "auto | bf16 | fp32 (auto: bf16 where the GPU/CPU runs it fast, else fp32; never fp16)"})
    device: str = field(default="auto", metadata={"help": "auto | cuda | cpu"})
    gradient_checkpointing: Optional[bool] = field(default=None, metadata={"help": "recompute activations in the backward pass to save memory (default: only when the estimated activations crowd the free memory)"})


@exit_on_user_error
def main(settings: Settings, mix_training_samples=None, loss_fn=label_token_loss_sum):
    """Train and save one run; returns its folder.

    Variants of this recipe (see v1_000_lora_lwf_finetune.py) pass `mix_training_samples` (task samples in,
    training samples out: to add rehearsal data, say) and `loss_fn` (see ftkit.trainer.train).
    """
    started = time.time()
    check_choice(settings.too_long, ("skip", "truncate"), "too_long")
    check_choice(settings.precision, ("auto", "bf16", "fp32"), "precision")
    device = pick_device(settings.device)
    dtype = pick_dtype(device, settings.precision)

    # 1. Base model and tokenizer (the tokenizer gets Gemma's turn template when it has no chat template).
    model_dir = ensure_base_model(settings.model)
    tokenizer = load_tokenizer(model_dir)
    ensure_chat_template(tokenizer)

    # 2. Data: read and check every record, format with the chat template, mask labels, pack.
    train_samples = load_samples(settings.train_file)
    if mix_training_samples:
        train_samples = mix_training_samples(train_samples)
    validation_samples = load_samples(settings.validation_file) if settings.validation_file else []
    encode = lambda samples: encode_all(samples, tokenizer, settings.max_seq_len, settings.train_on_all_tokens, settings.too_long)
    train_encoded, train_too_long = encode(train_samples)
    validation_encoded, validation_too_long = encode(validation_samples)
    if not train_encoded:
        raise KitError(f"{settings.train_file}: no sample left to train on (all over --max_seq_len {settings.max_seq_len}?)")
    micro_batch_tokens = settings.micro_batch_tokens or settings.max_seq_len
    micro_batches = lambda encoded: make_token_micro_batches(encoded, micro_batch_tokens, settings.packing, settings.max_seq_len, settings.seed)
    train_batches, validation_batches = micro_batches(train_encoded), micro_batches(validation_encoded)
    print(f"[data] {len(train_encoded)} training samples in {len(train_batches)} micro-batches, "
          f"{len(validation_encoded)} validation samples")

    # 3. Model: base (plain or 4-bit) plus fresh LoRA adapters.
    import torch

    torch.manual_seed(settings.seed)
    model = load_base_model(model_dir, device, dtype, settings.qlora)
    checkpointing = settings.gradient_checkpointing
    if checkpointing is None:
        checkpointing = needs_gradient_checkpointing(model.config, micro_batch_tokens, device, dtype)
    model = attach_lora(model, settings.lora_r, settings.lora_alpha, settings.lora_dropout,
                        settings.lora_target_modules, settings.qlora, checkpointing)
    trainable, total = count_parameters(model)
    print(f"[model] {model_dir.name} on {device}, {str(dtype).replace('torch.', '')}{', 4-bit NF4 base' if settings.qlora else ''}: "
          f"training {trainable:,} of {total:,} parameters ({100 * trainable / total:.2f}%)")

    # 4. Train, then measure the validation loss, inside a run folder that only becomes visible when complete.
    run = RunFolder(settings.output_dir, settings.run_name)
    try:
        result = train(model, train_batches, learning_rate=settings.learning_rate, warmup_ratio=settings.warmup_ratio,
                       gradient_accumulation=settings.gradient_accumulation, epochs=settings.epochs,
                       max_steps=settings.max_steps, max_grad_norm=settings.max_grad_norm,
                       weight_decay=settings.weight_decay, pad_token_id=tokenizer.pad_token_id, device=device,
                       seed=settings.seed, loss_fn=loss_fn)
        validation_loss = evaluate_loss(model, validation_batches, tokenizer.pad_token_id, device) if validation_batches else None
        generation_metrics = None
        if settings.eval_generate > 0 and validation_samples:
            conversations, references = prompts_and_references(validation_samples[: settings.eval_generate])
            answers = generate_answers(model, tokenizer, conversations, device=device, desc="eval-generate")
            generation_metrics = extraction_metrics(answers, references)

        # 5. Save: adapter, tokenizer (with chat template), settings, metrics, loss curve; then reveal the folder.
        model.save_pretrained(run.path)
        tokenizer.save_pretrained(run.path)
        metrics = {
            "final_train_loss": result.final_train_loss,
            "validation_loss": validation_loss,
            "optimizer_steps": result.steps,
            "train_tokens": result.train_tokens,
            "train_seconds": round(result.seconds, 1),
            "tokens_per_second": round(result.train_tokens / max(result.seconds, 1e-9), 1),
            "train_samples": len(train_encoded),
            "micro_batch_split_after_out_of_memory": result.micro_batch_split,
            "generation_metrics": generation_metrics,
            "samples_over_max_seq_len": {"train": train_too_long, "validation": validation_too_long, "action": settings.too_long},
            "history": result.history,
        }
        write_json(run.path / "train_metrics.json", metrics)
        data_files = [value for key, value in vars(settings).items() if key.endswith("_file") and value]
        write_json(run.path / "run.json", run_metadata(settings, data_files))
        validation_points = [(result.steps, validation_loss)] if validation_loss is not None else None
        save_loss_curve(result.history, run.path / "loss_curve.png", validation_points, title=run.name)
        run_dir = run.finish()
    except BaseException:
        run.discard()  # a failed or interrupted run leaves nothing that could be mistaken for a result
        print(f"[stopped] run not saved; earlier runs in {settings.output_dir} are untouched")
        raise

    # 6. Report.
    if train_too_long or validation_too_long:
        print(f"[data] {train_too_long + validation_too_long} samples were longer than --max_seq_len "
              f"{settings.max_seq_len} and were {'skipped' if settings.too_long == 'skip' else 'truncated'}")
    shown_validation = f"{validation_loss:.4f}" if validation_loss is not None else "n/a"
    print(f"[done] train loss {result.final_train_loss:.4f}, validation loss {shown_validation}, "
          f"{result.steps} steps in {result.seconds / 60:.1f} min ({metrics['tokens_per_second']:.0f} tokens/s); "
          f"total {(time.time() - started) / 60:.1f} min")
    if generation_metrics:
        print("[done] generation metrics on " f"{generation_metrics['samples']} validation samples: "
              + ", ".join(f"{k} {v:.3f}" for k, v in generation_metrics.items() if isinstance(v, float)))
    print(f"[done] adapter saved to {run_dir}")
    return run_dir


if __name__ == "__main__":
    main(parse_settings(Settings))
