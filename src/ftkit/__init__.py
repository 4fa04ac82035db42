"""ftkit: the shared plumbing of the fine-tuning scripts in src/ (v1_000_lora_finetune.py, v1_000_infer.py, ...).

Plain functions grouped by concern:
  base_model   --model as a local directory: a directory, a .gguf file (converted once) or a Hub id; the packaged
               Gemma-3 270M and SmolLM2-135M built from their PyPI GGUF files
  data         read and check data: local JSONL / JSON files or Hub data sets `owner/name[split]`, five schemas
               (chat, ShareGPT, instruction, prompt/completion, text), each problem named by file and line or row
  formatting   chat template, label masking, packing, collation
  modeling     device and precision, loading the model (plain or 4-bit), attaching LoRA (targets per architecture)
  loss         causal-LM loss on label tokens only, chunked over the 262k vocabulary (Liger's kernel on a GPU)
  distill      LwF: KL to the adapter-off base model, chunked
  trainer      the training loop with progress (loss, tokens/s, ETA) and out-of-memory recovery
  distributed  several processes under `accelerate launch` (DDP or DeepSpeed ZeRO-2); rank 0 writes
  tracking     MLflow, TensorBoard or Weights & Biases records of a run (--report_to)
  validation   validation every N steps, early stopping, best adapter kept in memory
  checkpoint   the opt-in rolling checkpoint for resuming
  runs         run folders that are complete or absent (else kept as -unfinished), newest-run lookup, resuming,
               the `final` folder
  files        atomic writes (text, JSON, JSONL, torch.save), free `-2`, `-3`, ... names for new files and folders
  reporting    loss-curve pictures (one run, or a sweep), forgetting against F1 for LwF sweeps
  settings     command-line / YAML settings from dataclasses (checked configs), run metadata
  generation   answers in the training prompt format: generate() settings (greedy or sampled), batched greedy answers
  extraction_metrics  metrics of the bundled extraction task
  task         the bundled extraction task's system prompt
  forgetting   how much a fine-tuned model forgot: perplexity on held-out general text against the base model's
  merging      an adapter and its base model opened, merged, saved as a standalone model (and pushed to the Hub)
  gguf_export  a merged model written as a GGUF file for llama.cpp-based tools (and its Ollama Modelfile)
  model_card   model cards (README.md) of runs, merged models and GGUF files
  compiling    torch.compile of the decoder layers for training, with a fallback to eager
  ginza_baseline  the off-the-shelf spaCy NER (GiNZA) column of v1_000_eval.py
  notebook     what the notebook v1_000_finetune.ipynb needs around training (live plot, data preview, input box)
  redaction    secrets (passwords in URLs, tokens) masked wherever the kit prints, logs, tracks or writes
  text_tables  comma-separated lists in, Markdown tables out
  errors       KitError (a user's mistake), what the command line makes of it (one line, exit code 2), stop signals
  cli          run_cli: the command line around a script's plain main(settings) (`if __name__ == "__main__":`)

Scripts written against this module keep working: it grows by adding names, never by changing old ones.
"""

from pathlib import Path

SRC_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = SRC_DIR.parent
DEFAULT_MODEL_DIR = REPO_ROOT / "tmp_docker" / "models" / "gemma-3-270m"
DEFAULT_DATASET_DIR = REPO_ROOT / "tmp_docker" / "dataset"
DEFAULT_OUTPUT_ROOT = SRC_DIR / "output"
