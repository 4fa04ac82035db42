"""Builders the tests share: tiny records and a tiny tokenizer, tiny random models of each architecture, LoRA on
them, settings for short runs, and the stand-ins several test files use. conftest.py re-exports every name, so
tests import them from conftest. Seeds are fixed; heavy libraries load inside the functions, so that collecting
the tests stays fast."""

import json
from pathlib import Path

import pytest

from ftkit.errors import user_errors_as_exit_codes

REPO_ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------------------------------- data, tokenizer

SYSTEM = "人物の氏名と住所をJSONで抽出"
SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]


def chat_record(text: str, answer: str) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                         {"role": "assistant", "content": answer}]}


TINY_RECORDS = [
    chat_record("東京都渋谷区の会社員、山田太郎さん(35)が逮捕された。",
                '{"persons": [{"name": "山田太郎", "address": "東京都渋谷区"}]}'),
    chat_record("大阪市の田中花子さんが受賞した。", '{"persons": [{"name": "田中花子", "address": "大阪市"}]}'),
    chat_record("日経平均株価は続落した。", '{"persons": []}'),
    chat_record("鈴木一郎選手が本塁打を放った。", '{"persons": [{"name": "鈴木一郎"}]}'),
]


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def build_tokenizer():
    """A byte-level BPE tokenizer with Gemma's special tokens, trained on a few sentences (vocabulary ~400)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    corpus = [json.dumps(r, ensure_ascii=False) for r in TINY_RECORDS] * 5
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=400, min_frequency=2, special_tokens=SPECIAL_TOKENS, show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<bos>", eos_token="<eos>",
                                   pad_token="<pad>", unk_token="<unk>",
                                   additional_special_tokens=["<start_of_turn>", "<end_of_turn>"])


# ------------------------------------------------------------------------------------------------ tiny models

# What each architecture adds to the shared shape. Qwen2 keeps its derived head size (hidden / heads = 32).
TINY_ARCHITECTURES = {
    "gemma3": ("Gemma3TextConfig", dict(head_dim=32, sliding_window=16,
                                        layer_types=["sliding_attention", "full_attention"])),
    "llama": ("LlamaConfig", dict(head_dim=32)),
    "qwen2": ("Qwen2Config", {}),
    "qwen3": ("Qwen3Config", dict(head_dim=32)),
    "qwen3_moe": ("Qwen3MoeConfig", dict(head_dim=32, moe_intermediate_size=32, num_experts=4, num_experts_per_tok=2)),
}


def build_tiny_model(architecture: str, tokenizer, **config_overrides):
    """A tiny random model of one of TINY_ARCHITECTURES: 2 layers, hidden size 64, MLP 128, 2 attention heads and
    1 key-value head, float32, seed 0; `config_overrides` replace any value of its config."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config_class, own = TINY_ARCHITECTURES[architecture]
    common = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                  pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                  eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True,
                  initializer_range=0.3)  # large enough that the tied output head can make confident predictions
    config = getattr(transformers, config_class)(**{**common, **own, **config_overrides})
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


# ----------------------------------------------------------------------------------------- LoRA and batches


def quiet(*_):
    pass


def tiny_lora_model(model_dir, qlora=False):
    import torch

    from ftkit.modeling import attach_lora, load_base_model

    torch.manual_seed(0)
    model = load_base_model(model_dir, "cpu", torch.float32, qlora=qlora)
    return attach_lora(model, r=8, alpha=16, dropout=0.0, target_modules="all-linear", qlora=qlora,
                       gradient_checkpointing=False)


def encoded_records(tokenizer, records=TINY_RECORDS):
    from ftkit.data import Sample
    from ftkit.formatting import encode_sample, ensure_chat_template

    ensure_chat_template(tokenizer, log=quiet)
    samples = [Sample(f"t:{i}", "chat", messages=r["messages"]) for i, r in enumerate(records)]
    return [encode_sample(s, tokenizer) for s in samples]


def tiny_batch(model_dir):
    from ftkit.formatting import collate
    from ftkit.modeling import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    return collate([[item] for item in encoded_records(tokenizer)], tokenizer.pad_token_id)


def marked_batch(model_dir, kinds=("task", "rehearsal", "task", "rehearsal"), rows=None):
    """One sample per row (so rows do not interact), marked as the LwF script marks its training mix."""
    from dataclasses import replace

    from ftkit.formatting import collate
    from ftkit.modeling import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    encoded = [replace(item, kind=kind) for item, kind in zip(encoded_records(tokenizer), kinds)]
    chosen = encoded if rows is None else [encoded[index] for index in rows]
    return collate([[item] for item in chosen], tokenizer.pad_token_id), chosen


def make_perturbed_adapter(model_dir: Path, run_dir: Path, scale: float = 0.05, seed: int = 0) -> Path:
    """Save a LoRA adapter for the model in `model_dir` into `run_dir`, like a finished training run: adapter
    files, tokenizer with chat template, and `config.yml` naming the base model. Its B matrices are set to random
    values instead of trained, so that the adapter clearly changes the outputs in no time."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from ftkit.formatting import ensure_chat_template
    from ftkit.modeling import load_tokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                  task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, scale)
    run_dir.mkdir(parents=True)
    peft_model.save_pretrained(run_dir)
    tokenizer = load_tokenizer(model_dir)
    ensure_chat_template(tokenizer, log=lambda message: None)
    tokenizer.save_pretrained(run_dir)
    (run_dir / "config.yml").write_text(f"model: {model_dir}\n", encoding="utf-8")
    return run_dir


def logits(model, tokenizer, text: str):
    import torch

    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).logits.float()


# ------------------------------------------------------------------------------------------ the training runs


def settings_for(model_dir, train, validation, output_dir, **overrides):
    import v1_000_lora_finetune as finetune

    settings = finetune.Settings(model=str(model_dir), train_file=str(train), validation_file=str(validation),
                                 output_dir=str(output_dir), learning_rate=5e-3, seed=0,
                                 report_to="none")  # tracking has tests of its own (test_v1_000_tracking.py)
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


def fail_at_step(monkeypatch, step: int, failure=RuntimeError) -> dict:
    """Make the trainer's gradient step raise `failure` at its `step`-th call; returns the call counter."""
    import ftkit.trainer

    calls = {"n": 0}
    real_step = ftkit.trainer.accumulate_gradients

    def failing_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            raise failure("stopped in the middle of training")
        return real_step(*args, **kwargs)

    monkeypatch.setattr(ftkit.trainer, "accumulate_gradients", failing_step)
    return calls


def mlflow_client(output_dir):
    from mlflow.tracking import MlflowClient

    return MlflowClient((output_dir / "mlruns").resolve().as_uri())


def stopped(call, capsys):
    """Run `call()` as the command line runs a script's main() (ftkit.cli.run_cli), expecting it to exit;
    returns (exit status, stderr lines, stdout)."""
    with pytest.raises(SystemExit) as exit_info, user_errors_as_exit_codes():
        call()
    captured = capsys.readouterr()
    return exit_info.value.code, [line for line in captured.err.splitlines() if line.strip()], captured.out


def one_error_line(lines: list[str]) -> str:
    """The single `error: ...` line of stderr (progress bars and library warnings may stand beside it)."""
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, lines
    assert not any("Traceback" in line for line in lines), lines
    return errors[0]


class FakeHub:
    """Stands in for huggingface_hub.HfApi: records what an upload would send."""

    existing = False
    uploads: list = []

    def repo_exists(self, repo_id, repo_type=None):
        return self.existing

    def create_repo(self, repo_id, **kwargs):
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kwargs):
        FakeHub.uploads.append(kwargs)


# -------------------------------------------------------------------------------------------------- GiNZA

NOBODY = '{"persons": []}'
# (text, the task's reference answer); GiNZA gets each of these right
SENTENCES = [
    ("安倍晋三首相は東京で記者会見を開いた。", '{"persons": [{"name": "安倍晋三"}]}'),
    ("イチローはシアトルで引退を表明した。", '{"persons": [{"name": "イチロー"}]}'),
    ("大谷翔平選手と山本由伸投手が練習に参加した。大谷翔平選手は笑顔を見せた。",
     '{"persons": [{"name": "大谷翔平"}, {"name": "山本由伸"}]}'),
    ("明日の東京は晴れる見込みです。", NOBODY),
]


def missing_ja_ginza(monkeypatch):
    """Make `import ja_ginza` fail as it does when the package is not installed."""
    import sys

    monkeypatch.setitem(sys.modules, "ja_ginza", None)
