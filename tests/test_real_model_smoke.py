"""A short run on the real Gemma-3 270M (built from the packaged GGUF when missing): a few training steps, then
inference with the saved adapter. Takes a few minutes on 2 CPU cores, most of it building the model once."""

import json

import pytest

import v1_000_infer as infer
import v1_000_lora_finetune as finetune
from ftkit import DEFAULT_DATASET_DIR, DEFAULT_MODEL_DIR
from ftkit.base_model import ensure_base_model
from ftkit.data import load_samples
from ftkit.formatting import IGNORE_INDEX, encode_sample, ensure_chat_template
from ftkit.modeling import load_tokenizer


@pytest.fixture(scope="module")
def real_model_dir():
    return ensure_base_model(DEFAULT_MODEL_DIR)


def test_real_tokenizer_masks_all_but_the_answer(real_model_dir):
    tokenizer = load_tokenizer(real_model_dir)
    ensure_chat_template(tokenizer)
    sample = load_samples(DEFAULT_DATASET_DIR / "validation.jsonl")[0]
    encoded = encode_sample(sample, tokenizer)
    labelled = [t for t, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(labelled) == sample.messages[-1]["content"] + "<end_of_turn>\n"
    assert encoded.input_ids[0] == tokenizer.bos_token_id and encoded.input_ids.count(tokenizer.bos_token_id) == 1


def test_a_few_real_steps_then_inference(real_model_dir, tmp_path, capsys):
    train = tmp_path / "train.jsonl"
    lines = (DEFAULT_DATASET_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_dir = finetune.main(finetune.Settings(train_file=str(train), validation_file="", output_dir=str(tmp_path / "out"),
                                              max_steps=2, gradient_accumulation=1))
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    assert metrics["optimizer_steps"] == 2 and metrics["history"][0]["loss"] > 0
    assert (run_dir / "adapter_model.safetensors").stat().st_size > 1_000_000  # r=16 on all linear layers
    answer = infer.main(infer.Settings(prompt="大阪市の会社員、田中花子さん(41)が表彰された。", adapter=str(run_dir), max_new_tokens=24))
    assert answer and answer in capsys.readouterr().out
