"""LoRA / QLoRA supervised fine-tuning of a small causal LM (default: Gemma-3 270M on the bundled extraction task).

Run:
    python src/v1_000_lora_finetune.py                      # defaults: one epoch, LoRA r=16 on all linear layers
    python src/v1_000_lora_finetune.py --qlora              # 4-bit NF4 base model (bitsandbytes), LoRA on top
    python src/v1_000_lora_finetune.py --help               # every setting

    python src/v1_000_lora_finetune.py --config src/configs/gemma3_270m_lora.yml   # settings from YAML; flags override
    python src/v1_000_lora_finetune.py --eval_every 20 --keep best                 # validation while training

Writes one new folder src/output/<date-time>_<run_name>/ holding the adapter (safetensors), the tokenizer with
its chat template, config.yml (the resolved settings: --config on it repeats the run), run.json (versions,
commit, data checksums), train_metrics.json and loss_curve.png. No intermediate checkpoint is written unless
--save_every asks for one (then --resume continues a killed run). The folder appears under its final name only
once everything is saved. The base model directory is built from the packaged GGUF on first use when missing.
"""

import contextlib
import importlib.util
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ftkit import DEFAULT_DATASET_DIR, DEFAULT_MODEL_DIR, DEFAULT_OUTPUT_ROOT
from ftkit.base_model import base_model_reference, ensure_base_model
from ftkit.cli import run_cli
from ftkit.data import load_samples
from ftkit.distributed import launched_processes
from ftkit.errors import (KitError, disk_error_reason, first_line, one_line, stop_signals_deferred,
                          stop_signals_interrupt)
from ftkit.extraction_metrics import extraction_metrics
from ftkit.compiling import compile_with_fallback, eager, should_compile
from ftkit.formatting import (collate, encode_all_counted, ensure_chat_template, make_token_micro_batches,
                              row_length)
from ftkit.generation import generate_answers, prompts_and_references
from ftkit.modeling import (attach_lora, count_parameters, init_changes_base_weights, load_base_model, load_tokenizer,
                            lora_init_weights, needs_gradient_checkpointing, pick_device, pick_dtype, precision_name)
from ftkit.reporting import save_loss_curve
from ftkit.checkpoint import CHECKPOINT_FILE, RollingCheckpoint, read_checkpoint
from ftkit.loss import label_token_loss_sum
from ftkit.model_card import write_model_card
from ftkit.runs import ADAPTER_WEIGHTS_FILES, UNFINISHED_FILE, RunFolder, check_output_root, write_json
from ftkit.settings import (check_choice, check_number, read_config, recorded_settings, run_metadata,
                            save_config)
from ftkit.tracking import REPORT_TO_CHOICES, REPORT_TO_PACKAGES, Tracker, open_tracker
from ftkit.trainer import WIDTH_MULTIPLE, evaluate_loss, move, neftune_noise, plan_steps, train
from ftkit.validation import PeriodicValidation, check_metric, greater_is_better_for, is_generation_metric


@dataclass
class Settings:
    # data and model
    model: str = field(default=str(DEFAULT_MODEL_DIR), metadata={"help": (
        "base model: a Hugging Face model directory, a .gguf file or a Hub id (the packaged Gemma-3 270M and "
        "SmolLM2-135M directories under tmp_docker/models/ are built when missing)")})
    train_file: str = field(default=str(DEFAULT_DATASET_DIR / "train.jsonl"), metadata={"help": (
        "training data, .jsonl or .json (chat, instruction, prompt/completion or text records)")})
    max_train_samples: int = field(default=0, metadata={"help": (
        "train on the first N records of --train_file only (0: all), for quick trials and sweeps")})
    validation_file: str = field(default=str(DEFAULT_DATASET_DIR / "validation.jsonl"), metadata={"help": (
        "validation data for the final validation loss; '' to skip")})
    output_dir: str = field(default=str(DEFAULT_OUTPUT_ROOT), metadata={"help": (
        "folder that receives one new run folder per run")})
    run_name: str = field(default="lora", metadata={"help": "suffix of the run folder name"})
    record_absolute_paths: bool = field(default=False, metadata={"help": (
        "record absolute paths in the run's files (config.yml, run.json, adapter_config.json, tracking); default: "
        "relative to the repository, ~/... under the home folder, so no private path travels with an adapter")})
    # schedule
    epochs: float = field(default=1.0, metadata={"help": "passes over the training data"})
    max_steps: int = field(default=-1, metadata={"help": "number of optimizer steps, overriding --epochs when above 0"})
    learning_rate: float = field(default=5e-4, metadata={"help": (
        "peak learning rate (cosine decay after linear warmup)")})
    min_learning_rate: float = field(default=0.0, metadata={"help": "where the cosine decay ends"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of the steps spent warming up"})
    micro_batch_tokens: int = field(default=0, metadata={"help": (
        "tokens per forward pass, padding included (0: --max_seq_len, one full packed row); memory follows tokens, "
        "not samples")})
    gradient_accumulation: int = field(default=1, metadata={"help": (
        "micro-batches per optimizer step (effective batch = micro_batch_tokens x this)")})
    max_seq_len: int = field(default=512, metadata={"help": (
        "tokens per row; longer samples are skipped or truncated (--too_long)")})
    packing: bool = field(default=True, metadata={"help": (
        "pack several samples per row without cross-sample attention (--no_packing to pad instead)")})
    too_long: str = field(default="skip", metadata={"help": (
        "what to do with samples over max_seq_len: skip | truncate")})
    train_on_all_tokens: bool = field(default=False, metadata={"help": (
        "put loss on prompt tokens too (default: assistant/completion tokens only)")})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm"})
    seed: int = field(default=42, metadata={"help": "seed for LoRA initialisation and data order"})
    # LoRA
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale = alpha / r)"})
    lora_dropout: float = field(default=0.0, metadata={"help": (
        "dropout on the LoRA input (0 by default: on a CPU its random masks cost about a tenth of the step time)")})
    lora_target_modules: str = field(default="auto", metadata={"help": (
        "auto (every attention and MLP projection of the architecture, MoE experts included), all-linear (every "
        "linear layer but the output head) or a list such as q_proj,v_proj,lm_head")})
    lora_target_parameters: str = field(default="", metadata={"help": (
        "parameters (not modules) to adapt as well, such as fused MoE experts: "
        "mlp.experts.gate_up_proj,mlp.experts.down_proj")})
    # LoRA variants (peft's own; all off by default)
    use_dora: bool = field(default=False, metadata={"help": (
        "DoRA: train a magnitude per output feature beside the LoRA direction (Liu et al., 2024); slower steps")})
    use_rslora: bool = field(default=False, metadata={"help": (
        "rsLoRA: scale the adapter by alpha / sqrt(r) instead of alpha / r (Kalajdzievski, 2023), so a higher rank "
        "keeps learning")})
    lora_init: str = field(default="default", metadata={"help": (
        "how the LoRA weights start: default (B zero) | gaussian | orthogonal | pissa | pissa_niter_N (fast SVD, N "
        "iterations) | olora; pissa and olora move part of each base weight into the adapter, which is saved "
        "converted to plain LoRA of twice the rank")})
    loraplus_lr_ratio: float = field(default=0.0, metadata={"help": (
        "LoRA+: train the B matrices at this multiple of --learning_rate (Hayou et al., 2024; 16 in the paper; 0: "
        "off)")})
    neftune_noise_alpha: float = field(default=0.0, metadata={"help": (
        "NEFTune: uniform noise of scale alpha / sqrt(tokens x hidden size) on the input embeddings while training, "
        "never in evaluation (Jain et al., 2023; 5 in the paper; 0: off)")})
    # validation while training
    eval_every: int = field(default=0, metadata={"help": (
        "compute the validation loss every N optimizer steps (0: only at the end)")})
    eval_generate: int = field(default=0, metadata={"help": (
        "also generate answers for the first N validation samples and record extraction metrics, at the end and at "
        "each --eval_every (0: off)")})
    early_stopping_patience: int = field(default=0, metadata={"help": (
        "stop when --metric_for_best has not improved for P evaluations (0: never; needs --eval_every)")})
    keep: str = field(default="last", metadata={"help": (
        "last | best: save the final adapter, or the one with the best --metric_for_best (kept in memory, no "
        "checkpoint)")})
    metric_for_best: str = field(default="validation_loss", metadata={"help": (
        "what early stopping and --keep best decide by: validation_loss or a generation metric such as name_set_f1 "
        "(needs --eval_generate N)")})
    greater_is_better: bool | None = field(default=None, metadata={"help": (
        "true | false: whether a larger --metric_for_best is better (default: inferred from the name; losses, error "
        "and false-positive rates lower, the rest higher)")})
    # tracking
    report_to: str = field(default="auto", metadata={"help": (
        "auto | none | mlflow | tensorboard | wandb: also send settings, per-step loss and final metrics there "
        "(auto: a local MLflow store under <output_dir>/mlruns when mlflow is installed; wandb: Weights & Biases, "
        "offline with WANDB_MODE=offline)")})
    tracking_experiment: str = field(default="", metadata={"help": (
        "MLflow experiment (TensorBoard: folder, W&B: project) the run is filed under ('': the --run_name); a sweep "
        "files all its runs under one")})
    # resume (opt-in)
    save_every: int = field(default=0, metadata={"help": (
        "keep one rolling checkpoint every N steps inside the unfinished run folder, for runtimes that disconnect "
        "(0: none)")})
    resume: str = field(default="", metadata={"help": (
        "continue an interrupted run: its unfinished folder (.incomplete-...) under --output_dir")})
    # hardware
    qlora: bool = field(default=False, metadata={"help": (
        "load the base model in 4-bit NF4 with double quantization (bitsandbytes)")})
    precision: str = field(default="auto", metadata={"help": (
        "auto | bf16 | fp32 (auto: bf16 where the GPU/CPU runs it fast, else fp32; never fp16)")})
    device: str = field(default="auto", metadata={"help": "auto | cuda | cpu"})
    compile: str = field(default="auto", metadata={"help": (
        "auto | true | false: torch.compile the decoder layers (about half a minute to a minute at the start, then "
        "about 1.2x the speed on a CPU; auto: bf16 runs of 60+ steps on a model of 50M+ parameters, one process, "
        "not QLoRA; falls back to eager when compiling fails)")})
    gradient_checkpointing: bool | None = field(default=None, metadata={"help": (
        "recompute activations in the backward pass to save memory (default: only when the estimated activations "
        "crowd the free memory)")})


@stop_signals_interrupt()  # for the run only: a killed run keeps its trained adapter, as an interrupted one does
def main(settings: Settings, mix_training_samples=None, loss_fn=label_token_loss_sum, on_step=None, extra_metrics=None):
    """Train and save one run; returns its folder. A user's mistake raises KitError (the command line makes it one
    line and exit status 2, see ftkit/cli.py). SIGTERM and SIGHUP stop it as Ctrl-C does, with the same clean-up
    (KeyboardInterrupt), for the duration of the run only, whoever calls it: the command line, a notebook, a sweep.

    Variants of this recipe (see v1_000_lora_lwf_finetune.py) pass `mix_training_samples` (task samples in,
    training samples out: to add rehearsal data, say) and `loss_fn` (see ftkit.trainer.train). A notebook
    passes `on_step(record)` to draw the loss live (record: step, loss, learning_rate, grad_norm, ...).
    `extra_metrics(model, tokenizer, device)` returns more measures of the trained model for train_metrics.json
    (LwF: its forgetting).
    """
    started = time.time()
    settings, processes, device, dtype = setup(settings)

    # 1. Base model and tokenizer (the tokenizer gets Gemma's turn template when it has no chat template).
    with processes.main_process_first():  # under `accelerate launch`, rank 0 builds a missing model directory
        model_dir = ensure_base_model(settings.model)
    tokenizer = load_tokenizer(model_dir)
    ensure_chat_template(tokenizer)

    # 2. Data: read and check every record, format with the chat template, mask labels, pack.
    data = prepare_data(settings, tokenizer, mix_training_samples)

    # 3. Model: base (plain or 4-bit) plus fresh LoRA adapters, compiled where it pays (compiled here, not in step 4).
    model = prepare_model(settings, model_dir, device, dtype)
    compile_for_training(settings, model, data, device, tokenizer, loss_fn, processes)

    # 4. Train, validating as asked, inside a run folder that only becomes visible when complete. From the last
    # optimizer step on, the trained adapter is never thrown away: whatever fails afterwards (the final
    # validation, saving, a signal, a full disk), it is saved in a folder marked unfinished (stopped_run).
    job = RunInProgress(settings, processes, model, tokenizer, data, device)
    try:
        result = train_in_run_folder(job, loss_fn, on_step)
        if not processes.is_main:
            # The other processes trained alongside; rank 0 alone evaluates and saves. They wait here for its
            # finished run folder, which it shares as the last line of step 5.
            return processes.share(None)

        # 5. Save: adapter, tokenizer (with chat template), settings, metrics, loss curve, model card; then
        # reveal the folder.
        metrics = save_run(job, result, extra_metrics)
        run_dir = processes.share(job.run.finish())  # once renamed, the run is complete whatever happens next
        job.tracker.close("FINISHED")
    except BaseException as error:
        raise stopped_run(error, job) from None

    # 6. Report.
    report(settings, data, result, metrics, started, run_dir)
    return run_dir


def setup(settings: Settings):
    """Settings checked (before anything loads), the processes (one, or one per GPU under `accelerate launch`,
    see ftkit/distributed.py), the device and the dtype. The precision is recorded as chosen (bf16 or fp32), so
    that config.yml repeats the run in the same dtype even where `auto` would choose otherwise."""
    settings = settings_of_resumed_run(settings) if settings.resume else settings
    check_settings(settings)
    check_output_root(settings.output_dir)  # a file, no permission, a read-only disk: said before anything loads
    if settings.resume and (Path(settings.resume) / CHECKPOINT_FILE).is_file():
        read_checkpoint(Path(settings.resume) / CHECKPOINT_FILE)  # a crafted or truncated one stops here, in one line
    processes = launched_processes(settings.device)
    device = processes.device or pick_device(settings.device)
    dtype = pick_dtype(device, settings.precision)
    return replace(settings, precision=precision_name(dtype)), processes, device, dtype


@dataclass
class RunInProgress:
    """One run between its first and its last file: what training and saving share, and what `stopped_run`
    needs to keep or clean up when the run stops early. Making one makes the run's (hidden) folder."""
    settings: Settings
    processes: object
    model: object
    tokenizer: object
    data: "PreparedData"
    device: object
    run: object = field(init=False)  # the RunFolder (or, on other ranks than 0, its stand-in)
    checkpoint: RollingCheckpoint | None = field(init=False)
    tracker: Tracker = field(default_factory=Tracker)  # records nothing until rank 0 opens the one --report_to names
    validation: PeriodicValidation | None = None
    trained: bool = False  # the last optimizer step is done: from here on the adapter is kept
    adapter_saved: bool = False
    best_step: int | None = None

    def __post_init__(self):
        settings = self.settings
        self.run = self.processes.run_folder(lambda: RunFolder.adopt(settings.resume) if settings.resume
                                             else RunFolder(settings.output_dir, settings.run_name))
        self.checkpoint = RollingCheckpoint(self.run.path, settings.save_every) if settings.save_every else None


def train_in_run_folder(job: RunInProgress, loss_fn, on_step):
    """Write config.yml, open the tracker, train with validation as asked; returns ftkit.trainer.train's result."""
    settings, processes, model, tokenizer, data = job.settings, job.processes, job.model, job.tokenizer, job.data
    planned_steps = plan_steps(len(data.train_batches), settings.gradient_accumulation * processes.world_size,
                               settings.epochs, settings.max_steps)
    if processes.is_main:  # under `accelerate launch` rank 0 alone writes and tracks
        save_config(replace(settings, resume=""), job.run.path / "config.yml")  # first: --resume reads it
        job.tracker = open_tracker(settings.report_to, settings.output_dir,
                                   experiment=settings.tracking_experiment or settings.run_name, run_name=job.run.name)
        job.tracker.log_params(recorded_settings(settings))

    def log_step(record):
        job.trained = job.trained or record["step"] >= planned_steps
        job.tracker.log_step(record)
        if on_step:
            on_step(record)

    job.validation = PeriodicValidation(
        model, data.validation_batches, tokenizer.pad_token_id, job.device, settings.eval_every,
        settings.early_stopping_patience, keep_best=settings.keep == "best",
        generation_metrics=generation_metrics_of(settings, model, tokenizer, data.validation_samples, job.device),
        metric=settings.metric_for_best, greater_is_better=settings.greater_is_better)
    with neftune_noise(model, settings.neftune_noise_alpha):  # training steps only; removed before evaluating
        result = train(model, data.train_batches, learning_rate=settings.learning_rate,
                       warmup_ratio=settings.warmup_ratio, gradient_accumulation=settings.gradient_accumulation,
                       epochs=settings.epochs, max_steps=settings.max_steps, max_grad_norm=settings.max_grad_norm,
                       weight_decay=settings.weight_decay, pad_token_id=tokenizer.pad_token_id, device=job.device,
                       seed=settings.seed, min_learning_rate_ratio=settings.min_learning_rate / settings.learning_rate,
                       loss_fn=loss_fn, after_step=job.validation, checkpoint=job.checkpoint, on_step=log_step,
                       processes=processes, loraplus_lr_ratio=settings.loraplus_lr_ratio)
    job.trained = True  # early stopping ends before the planned steps
    return result


def save_run(job: RunInProgress, result, extra_metrics) -> dict:
    """Everything of a finished run into its (still hidden) folder; returns train_metrics.json's content.

    The vocabulary is never resized, so the (frozen) embeddings and head need not be saved, even when LoRA
    targets them; peft's default would copy the 262k x 640 matrix into the adapter.
    """
    settings, model, tokenizer, run, validation = job.settings, job.model, job.tokenizer, job.run, job.validation
    best_step = job.best_step = validation.restore_best() if settings.keep == "best" else None
    final = final_evaluation(model, tokenizer, job.data, job.device, validation, best_step or result.steps)
    model.save_pretrained(run.path, save_embedding_layers=False)
    job.adapter_saved = True
    tokenizer.save_pretrained(run.path)
    metrics = run_metrics(settings, job.data, result, final, validation, best_step)
    if extra_metrics:
        metrics.update(extra_metrics(model, tokenizer, job.device))
    write_json(run.path / "train_metrics.json", metrics)
    data_files = [value for key, value in vars(settings).items() if key.endswith("_file") and value]
    write_json(run.path / "run.json", run_metadata(settings, data_files))
    validation_points = [(point["step"], point["validation_loss"]) for point in validation.points]
    if final["validation_loss"] is not None and not validation_points:
        validation_points = [(result.steps, final["validation_loss"])]
    save_loss_curve(result.history, run.path / "loss_curve.png", validation_points, title=run.name)
    write_model_card(run.path, run.name)  # README.md: the model card, over peft's empty template
    job.tracker.log_results(metrics)
    for name in ("loss_curve.png", "config.yml", "train_metrics.json"):
        job.tracker.log_artifact(run.path / name)
    if job.checkpoint:
        job.checkpoint.delete()  # finished: only the final adapter remains
    return metrics


def stopped_run(error: BaseException, job: RunInProgress) -> BaseException:
    """What is left of a run that stopped with `error`, and the error to stop the script with.

    - finished (renamed) already: nothing is touched;
    - stopped after the last optimizer step: the trained adapter is saved (if it was not yet) and the folder
      becomes `<name>-unfinished` with UNFINISHED.txt, which no newest-run lookup picks; the message names it;
    - stopped earlier with a rolling checkpoint: the folder is kept for --resume, and the command is printed
      (not when the checkpoint itself could not be read: then the folder is left as it is);
    - otherwise the unfinished folder is removed, so nothing that looks like a result is left.
    A full disk, a quota or a read-only file system anywhere in the run is one KitError line (exit status 2).
    """
    run, checkpoint, tracker = job.run, job.checkpoint, job.tracker
    reason = disk_error_reason(error) if not isinstance(error, KitError) else None
    if reason:
        name = getattr(error, "filename", None)
        which = f" ({Path(name).name})" if name else ""
        error = KitError(f"could not write into the run folder {run.name}{which}: {reason}")
    if getattr(run, "finished", False):
        tracker.close("FINISHED")
        return error
    kept = None
    if job.trained and isinstance(run, RunFolder):  # first: a tracker that hangs must not cost the adapter
        kept = keep_trained_adapter(error, job)
    tracker.close("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
    if kept is not None:
        note = f"the trained adapter is kept in {kept} (marked unfinished: {UNFINISHED_FILE})"
        if isinstance(error, KitError):  # the one line on stderr names it
            return KitError(f"{error}; {note}")
        if isinstance(error, KeyboardInterrupt):
            return KeyboardInterrupt(f"{str(error) or 'Ctrl-C'}; {note}")
        print(f"[stopped] {note}", file=sys.stderr)  # a bug: its traceback follows
        return error
    if checkpoint and checkpoint.unreadable:
        print(f"[stopped] {run.path} is left as it is; its checkpoint cannot be resumed")
    elif checkpoint and checkpoint.exists():
        script = sys.argv[0] if sys.argv[0].endswith(".py") else __file__  # not the notebook kernel's launcher
        print(f"[stopped] run kept for resuming: python {script} --resume {run.path}")
    else:
        run.discard()  # a failed or interrupted run leaves nothing that could be mistaken for a result
        print(f"[stopped] run not saved; earlier runs in {job.settings.output_dir} are untouched")
    return error


def keep_trained_adapter(error, job: RunInProgress):
    """Save the trained adapter into the run folder (when it is not there yet) and mark the folder unfinished;
    returns where it is, or None when even the adapter could not be written (a full disk, say).

    A second Ctrl-C / SIGTERM / SIGHUP waits until this is done, so the rescue is not cut in half.
    """
    settings, run = job.settings, job.run
    if isinstance(error, KeyboardInterrupt):
        why = f"interrupted ({str(error) or 'Ctrl-C'}) after training"
    else:
        kind = type(error).__name__ if not isinstance(error, KitError) else "error"
        why = f"{kind} after training: {one_line(first_line(error))}"
    with stop_signals_deferred():
        if not job.adapter_saved:
            if settings.keep == "best" and job.best_step is None and job.validation is not None:
                job.validation.restore_best()  # the adapter this run would have saved
            try:
                job.model.save_pretrained(run.path, save_embedding_layers=False)
            except Exception:
                for name in ADAPTER_WEIGHTS_FILES:
                    (run.path / name).unlink(missing_ok=True)  # half a file is no adapter
                return None
        if not (run.path / "tokenizer_config.json").is_file():
            with contextlib.suppress(Exception):
                job.tokenizer.save_pretrained(run.path)  # inference formats prompts with its chat template
        if job.checkpoint:
            job.checkpoint.delete()  # training is over: the adapter is what remains
        return run.keep_unfinished(why)


def settings_of_resumed_run(settings: Settings) -> Settings:
    """The settings saved in the unfinished run folder given to --resume (other flags are ignored).

    The run stays where its folder is: the output folder is the folder's parent, whatever config.yml says, so
    a file inside the folder never chooses where the kit writes.
    """
    config = Path(settings.resume) / "config.yml"
    if not config.is_file():
        raise KitError(f"--resume {settings.resume}: no config.yml there; is it a run started with --save_every?")
    return replace(type(settings)(**read_config(config, type(settings))), resume=settings.resume,
                   output_dir=str(Path(settings.resume).parent))


def check_settings(settings: Settings) -> None:
    check_choice(settings.too_long, ("skip", "truncate"), "too_long")
    check_choice(settings.precision, ("auto", "bf16", "fp32"), "precision")
    check_choice(settings.compile, ("auto", "true", "false"), "compile")
    check_choice(settings.keep, ("last", "best"), "keep")
    check_choice(settings.report_to, REPORT_TO_CHOICES, "report_to")
    module, package = REPORT_TO_PACKAGES.get(settings.report_to, (None, None))
    if module and not importlib.util.find_spec(module):
        raise KitError(f"--report_to {settings.report_to} needs the {package} package: pip install {package}")
    if settings.keep == "best" and settings.eval_every <= 0:
        raise KitError(f"--keep best needs --eval_every N (the {settings.metric_for_best} of each evaluation decides "
                       "which adapter is best)")
    if settings.early_stopping_patience and settings.eval_every <= 0:
        raise KitError("--early_stopping_patience needs --eval_every N")
    check_metric(settings.metric_for_best, "metric_for_best")
    if is_generation_metric(settings.metric_for_best) and settings.eval_generate <= 0:
        raise KitError(f"--metric_for_best {settings.metric_for_best} needs --eval_generate N (it is measured on the "
                       "answers generated for N validation samples)")
    if is_generation_metric(settings.metric_for_best) and not settings.validation_file:
        raise KitError(f"--metric_for_best {settings.metric_for_best} needs a --validation_file to generate answers "
                       "for")
    check_lora_variants(settings)
    check_numbers(settings)


def check_lora_variants(settings: Settings) -> None:
    """The LoRA variants' settings: one line naming the setting for a value or a combination that cannot work."""
    lora_init_weights(settings.lora_init)  # a name peft is not given here is one line listing the choices
    if settings.lora_init == "orthogonal" and settings.lora_r % 2:
        raise KitError(f"--lora_init orthogonal needs an even --lora_r (it pairs rows of an orthogonal matrix), "
                       f"got {settings.lora_r}")
    if init_changes_base_weights(settings.lora_init) and settings.use_dora:
        raise KitError(f"--lora_init {settings.lora_init} cannot go with --use_dora: the adapter is saved converted "
                       "to plain LoRA, which has no place for DoRA's magnitudes")
    if init_changes_base_weights(settings.lora_init) and settings.qlora:
        raise KitError(f"--lora_init {settings.lora_init} cannot go with --qlora: it changes the base weights, which "
                       "a 4-bit base model holds only approximately, so the saved adapter would not match; use default "
                       "or gaussian")
    check_number(settings.loraplus_lr_ratio, "loraplus_lr_ratio", minimum=0,
                 meaning="the learning rate of B as a multiple of --learning_rate; 0 for off")
    check_number(settings.neftune_noise_alpha, "neftune_noise_alpha", minimum=0,
                 meaning="the scale of the embedding noise; 0 for off")


def check_numbers(settings: Settings) -> None:
    """Every number in its range, as one line naming the setting, before anything loads."""
    check_number(settings.lora_r, "lora_r", minimum=1, whole=True, meaning="LoRA rank")
    check_number(settings.lora_alpha, "lora_alpha", above=0, meaning="LoRA scale = alpha / r")
    check_number(settings.lora_dropout, "lora_dropout", minimum=0, below=1, meaning="a probability")
    check_number(settings.learning_rate, "learning_rate", above=0)
    check_number(settings.min_learning_rate, "min_learning_rate", minimum=0, maximum=settings.learning_rate,
                 meaning="where the decay from --learning_rate ends")
    check_number(settings.warmup_ratio, "warmup_ratio", minimum=0, maximum=1, meaning="a share of the steps")
    check_number(settings.max_steps, "max_steps", whole=True, meaning="above 0, or -1 to train --epochs")
    if settings.max_steps <= 0:
        check_number(settings.epochs, "epochs", above=0,
                     meaning="passes over the training data, when --max_steps is not set")
    check_number(settings.gradient_accumulation, "gradient_accumulation", minimum=1, whole=True,
                 meaning="micro-batches per optimizer step")
    check_number(settings.max_seq_len, "max_seq_len", minimum=2, whole=True, meaning="tokens per row")
    check_number(settings.micro_batch_tokens, "micro_batch_tokens", minimum=0, whole=True,
                 meaning="tokens per forward pass; 0 for --max_seq_len")
    check_number(settings.weight_decay, "weight_decay", minimum=0)
    check_number(settings.max_grad_norm, "max_grad_norm", above=0, meaning="gradient clipping norm")
    for name in ("max_train_samples", "eval_every", "eval_generate", "early_stopping_patience", "save_every"):
        check_number(getattr(settings, name), name, minimum=0, whole=True, meaning="0 for off")


@dataclass
class PreparedData:
    train_batches: list
    validation_batches: list
    validation_samples: list
    train_samples: int
    too_long: dict  # {"train": n, "validation": n} samples over --max_seq_len
    too_long_outcomes: dict = field(default_factory=dict)  # per split: over_max_seq_len, skipped, truncated, dropped


def prepare_data(settings: Settings, tokenizer, mix_training_samples=None) -> PreparedData:
    train_samples = load_samples(settings.train_file)
    if settings.max_train_samples:
        train_samples = train_samples[: settings.max_train_samples]
    if mix_training_samples:
        train_samples = mix_training_samples(train_samples)
    validation_samples = load_samples(settings.validation_file) if settings.validation_file else []
    def encode(samples):
        return encode_all_counted(samples, tokenizer, settings.max_seq_len, settings.train_on_all_tokens,
                                  settings.too_long)

    train_encoded, train_counts = encode(train_samples)
    validation_encoded, validation_counts = encode(validation_samples)
    too_long = {"train": train_counts, "validation": validation_counts}
    for line in too_long_lines(settings, too_long):  # before training, so that a person can stop and fix it
        print(line)
    if not train_encoded:
        raise KitError(f"{settings.train_file}: no sample left to train on "
                       f"(all over --max_seq_len {settings.max_seq_len}?)")
    micro_batch_tokens = settings.micro_batch_tokens or settings.max_seq_len
    def micro_batches(encoded):
        return make_token_micro_batches(encoded, micro_batch_tokens, settings.packing, settings.max_seq_len,
                                        settings.seed)

    data = PreparedData(micro_batches(train_encoded), micro_batches(validation_encoded), validation_samples,
                        len(train_encoded), {"train": train_counts["over_max_seq_len"],
                                             "validation": validation_counts["over_max_seq_len"]}, too_long)
    print(f"[data] {len(train_encoded)} training samples in {len(data.train_batches)} micro-batches, "
          f"{len(validation_encoded)} validation samples")
    return data


def too_long_lines(settings: Settings, counts: dict) -> list[str]:
    """One line per data split with samples over --max_seq_len: how many, and what became of them."""
    lines = []
    for split, count in counts.items():
        if not count["over_max_seq_len"]:
            continue
        head = (f"[data] {split}: {count['over_max_seq_len']} samples were longer than "
                f"--max_seq_len {settings.max_seq_len}")
        if settings.too_long == "skip":
            lines.append(f"{head} and were skipped")
        else:
            lines.append(f"{head}: {count['truncated']} truncated (part of the answer kept), {count['dropped']} "
                         "dropped (the answer was cut off entirely)")
    return lines


def prepare_model(settings: Settings, model_dir, device, dtype):
    import torch

    torch.manual_seed(settings.seed)
    model = load_base_model(model_dir, device, dtype, settings.qlora)
    # What the adapter records as its base (adapter_config.json and peft's README.md): a Hub id or a path
    # relative to the repository, never a private absolute path unless --record_absolute_paths.
    model.name_or_path = base_model_reference(settings.model, model_dir, absolute=settings.record_absolute_paths)
    model.config._name_or_path = model.name_or_path
    checkpointing = settings.gradient_checkpointing
    if checkpointing is None:
        micro_batch_tokens = settings.micro_batch_tokens or settings.max_seq_len
        checkpointing = needs_gradient_checkpointing(model.config, micro_batch_tokens, device, dtype)
    model = attach_lora(model, settings.lora_r, settings.lora_alpha, settings.lora_dropout,
                        settings.lora_target_modules, settings.qlora, checkpointing,
                        target_parameters=settings.lora_target_parameters,
                        use_dora=settings.use_dora, use_rslora=settings.use_rslora, init=settings.lora_init)
    trainable, total = count_parameters(model)
    base = ", 4-bit NF4 base" if settings.qlora else ""
    print(f"[model] {Path(model_dir).name} on {device}, {str(dtype).replace('torch.', '')}{base}: "
          f"training {trainable:,} of {total:,} parameters ({100 * trainable / total:.2f}%)")
    return model


def compile_for_training(settings: Settings, model, data, device, tokenizer, loss_fn, processes) -> bool:
    """torch.compile the decoder layers when --compile says so, warmed up on two training micro-batches of
    different widths (so both of its compilations happen before the timed steps); eager when it fails."""
    planned = plan_steps(len(data.train_batches), settings.gradient_accumulation * processes.world_size,
                         settings.epochs, settings.max_steps)
    if not should_compile(settings.compile, planned_steps=planned, parameters=count_parameters(model)[1],
                          qlora=settings.qlora, processes=processes.world_size, bf16=settings.precision == "bf16"):
        return False
    started = time.time()
    widths = {}
    for rows in data.train_batches:  # the first micro-batches of two different padded widths
        widths.setdefault(-(-max(row_length(row) for row in rows) // WIDTH_MULTIPLE), rows)
        if len(widths) == 2:
            break

    def forward_backward(rows):
        loss_sum, label_tokens, *_ = loss_fn(model, move(collate(rows, tokenizer.pad_token_id, WIDTH_MULTIPLE), device))
        (loss_sum / max(label_tokens, 1)).backward()

    compiled = compile_with_fallback(model, list(widths.values()), forward_backward)
    if compiled:
        print(f"[compile] done in {time.time() - started:.0f} s")
    return compiled


def generation_metrics_of(settings: Settings, model, tokenizer, validation_samples, device):
    """A function measuring extraction metrics on the first --eval_generate validation samples, or None."""
    if settings.eval_generate <= 0 or not validation_samples:
        return None
    conversations, references = prompts_and_references(validation_samples[: settings.eval_generate])

    def measure() -> dict:
        was_training = model.training
        model.eval()
        with eager(model):  # generation runs the uncompiled layers (see ftkit/compiling.py)
            answers = generate_answers(model, tokenizer, conversations, device=device, desc="eval-generate")
        model.train(was_training)
        return extraction_metrics(answers, references)

    return measure


def final_evaluation(model, tokenizer, data: PreparedData, device, validation, kept_step: int) -> dict:
    """Validation loss and (with --eval_generate) generation metrics of the adapter that will be saved.

    When validation during training already measured that adapter (its step was an evaluation step), those
    numbers are reused rather than measured again.
    """
    measure = validation.generation_metrics
    measured = next((p for p in validation.points if p["step"] == kept_step), None)
    if measured:
        generation = {k: v for k, v in measured.items() if k not in ("step", "validation_loss")}
        return {"validation_loss": measured["validation_loss"], "generation_metrics": generation if measure else None}
    validation_loss = (evaluate_loss(model, data.validation_batches, tokenizer.pad_token_id, device)
                       if data.validation_batches else None)
    return {"validation_loss": validation_loss, "generation_metrics": measure() if measure else None}


def run_metrics(settings: Settings, data: PreparedData, result, final: dict, validation, best_step) -> dict:
    return {
        "final_train_loss": result.final_train_loss,
        "validation_loss": final["validation_loss"],
        "optimizer_steps": result.steps,
        "train_tokens": result.train_tokens,
        "train_seconds": round(result.seconds, 1),
        "tokens_per_second": round(result.train_tokens / max(result.seconds, 1e-9), 1),
        "train_samples": data.train_samples,
        "micro_batch_split_after_out_of_memory": result.micro_batch_split,
        "processes": result.processes,
        "effective_batch_tokens": effective_batch_tokens(settings, result.processes),
        "generation_metrics": final["generation_metrics"],
        "validation_during_training": validation.points,
        "kept": {"which": settings.keep, "step": best_step if best_step is not None else result.steps,
                 **({"metric": settings.metric_for_best,
                     "greater_is_better": greater_is_better_for(settings.metric_for_best, settings.greater_is_better)}
                    if settings.keep == "best" else {})},
        "samples_over_max_seq_len": {**data.too_long, "action": settings.too_long, "outcomes": data.too_long_outcomes},
        "history": result.history,
    }


def effective_batch_tokens(settings: Settings, processes: int) -> int:
    """Tokens per optimizer step, padding included: micro-batch tokens x gradient accumulation x processes."""
    return (settings.micro_batch_tokens or settings.max_seq_len) * settings.gradient_accumulation * processes


def report(settings: Settings, data: PreparedData, result, metrics: dict, started: float, run_dir) -> None:
    for line in too_long_lines(settings, data.too_long_outcomes):  # said before training too
        print(line)
    validation_loss = metrics["validation_loss"]
    shown_validation = f"{validation_loss:.4f}" if validation_loss is not None else "n/a"
    kept = metrics["kept"]
    by = f" by {kept['metric']}" if "metric" in kept else ""
    print(f"[done] train loss {result.final_train_loss:.4f}, validation loss {shown_validation} "
          f"(adapter of step {kept['step']}, --keep {kept['which']}{by}), {result.steps} steps in "
          f"{result.seconds / 60:.1f} min ({metrics['tokens_per_second']:.0f} tokens/s); "
          f"total {(time.time() - started) / 60:.1f} min")
    print(f"[done] effective batch {metrics['effective_batch_tokens']} tokens per optimizer step "
          f"({settings.micro_batch_tokens or settings.max_seq_len} per micro-batch x {settings.gradient_accumulation} "
          f"accumulation x {metrics['processes']} process{'es' if metrics['processes'] > 1 else ''})")
    generation = metrics["generation_metrics"]
    if generation:
        print(f"[done] generation metrics on {generation['samples']} validation samples: "
              + ", ".join(f"{k} {v:.3f}" for k, v in generation.items() if isinstance(v, float)))
    print(f"[done] adapter saved to {run_dir}")


if __name__ == "__main__":
    run_cli(main, Settings)
