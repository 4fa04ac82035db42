"""Shared test fixtures: tiny random models (Gemma-3 and Llama shapes) with a tiny byte-level tokenizer, built in
code in a second, so that the scripts' real code paths run fast. Seeds are fixed."""

import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

SYSTEM = "人物の氏名と住所をJSONで抽出"
SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]


def chat_record(text: str, answer: str) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                         {"role": "assistant", "content": answer}]}


TINY_RECORDS = [
    chat_record("東京都渋谷区の会社員、山田太郎さん(35)が逮捕された。", '{"persons": [{"name": "山田太郎", "address": "東京都渋谷区"}]}'),
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


def build_tiny_model(architecture: str, tokenizer, **config_overrides):
    import torch
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, LlamaConfig

    torch.manual_seed(0)
    common = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=512,
                  pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                  eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True,
                  initializer_range=0.3)  # large enough that the tied output head can make confident predictions
    if architecture == "gemma3":
        layers = dict(sliding_window=16, layer_types=["sliding_attention", "full_attention"])
        config = Gemma3TextConfig(**{**common, **layers, **config_overrides})
    else:
        config = LlamaConfig(**{**common, **config_overrides})
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """{"gemma3": dir, "llama": dir}: saved tiny models usable with --model."""
    tokenizer = build_tokenizer()
    dirs = {}
    for architecture in ("gemma3", "llama"):
        path = tmp_path_factory.mktemp(f"tiny-{architecture}")
        build_tiny_model(architecture, tokenizer).save_pretrained(path)
        tokenizer.save_pretrained(path)
        dirs[architecture] = path
    return dirs


@pytest.fixture
def tiny_data(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", TINY_RECORDS * 4)
    validation = write_jsonl(tmp_path / "validation.jsonl", TINY_RECORDS)
    return train, validation
