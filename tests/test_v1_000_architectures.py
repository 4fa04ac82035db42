"""Other architectures and other ways to name --model: tiny random Gemma 3, Llama, Qwen2, Qwen3 and Qwen3-MoE
models each train one step with the automatic LoRA targets; the adapter is saved, reloaded and changes outputs."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT, build_tiny_model, build_tokenizer, settings_for
from safetensors.torch import load_file

import v1_000_lora_finetune as finetune
from ftkit.modeling import load_for_inference

ATTENTION_AND_MLP = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.fixture(scope="module")
def architecture_dirs(tmp_path_factory, tiny_model_dirs):
    tokenizer = build_tokenizer()
    dirs = dict(tiny_model_dirs)
    for architecture in ("qwen2", "qwen3", "qwen3_moe"):
        path = tmp_path_factory.mktemp(f"tiny-{architecture}")
        build_tiny_model(architecture, tokenizer).save_pretrained(path)
        tokenizer.save_pretrained(path)
        dirs[architecture] = path
    return dirs


def logits_of(model, tokenizer, text="山田太郎さんが来た。"):
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


@pytest.mark.parametrize("architecture", ["gemma3", "llama", "qwen2", "qwen3", "qwen3_moe"])
def test_each_architecture_trains_with_automatic_targets_and_its_adapter_reloads(architecture, architecture_dirs,
                                                                                 tiny_data, tmp_path):
    model_dir = architecture_dirs[architecture]
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(model_dir, train, validation, tmp_path / "out", max_steps=1, report_to="none"))

    adapter_config = json.loads((run_dir / "adapter_config.json").read_text())
    adapted = {key.split(".lora_")[0] for key in load_file(str(run_dir / "adapter_model.safetensors"))}
    if architecture == "qwen3_moe":
        # attention projections as modules, both fused expert weights as parameters (peft nests one wrapper per
        # parameter: `experts` and `experts.base_layer`); no dense MLP, no router, no output head
        assert {"mlp.experts.gate_up_proj", "mlp.experts.down_proj"} <= set(adapter_config["target_parameters"])
        assert {name.rsplit(".", 1)[-1] for name in adapted
                if ".experts" not in name} == {"q_proj", "k_proj", "v_proj", "o_proj"}
        assert [sum(f"layers.{i}.mlp.experts" in name for name in adapted) for i in (0, 1)] == [2, 2]
    else:
        assert set(adapter_config["target_modules"]) == ATTENTION_AND_MLP
        assert {name.rsplit(".", 1)[-1] for name in adapted} == ATTENTION_AND_MLP
        assert len(adapted) == 7 * 2  # every layer (2), never lm_head or the embeddings

    base, tokenizer = load_for_inference(model_dir, None)
    tuned, _ = load_for_inference(model_dir, run_dir)
    assert (logits_of(tuned, tokenizer) - logits_of(base, tokenizer)).abs().max() > 1e-3  # the adapter is applied


def test_explicit_targets_can_include_the_output_head(architecture_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(architecture_dirs["llama"], train, validation, tmp_path / "out", max_steps=1,
                                         report_to="none", lora_target_modules="q_proj,lm_head"))
    adapted = {key.split(".lora_")[0] for key in load_file(str(run_dir / "adapter_model.safetensors"))}
    assert {name.rsplit(".", 1)[-1]
            for name in adapted} == {"q_proj", "lm_head"}  # LoRA only: no copy of the frozen head


def run_script(*args, env=None):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "src" / "v1_000_lora_finetune.py"), *args],
                            capture_output=True, text=True, timeout=300, env=env)
    return result.returncode, result.stderr.strip()


def test_hub_id_without_network_is_one_clear_line(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}  # offline and an empty cache
    code, stderr = run_script("--model", "google/gemma-3-270m", "--output_dir", str(tmp_path / "out"), env=env)
    assert code == 2 and "Traceback" not in stderr
    last_line = stderr.splitlines()[-1]
    assert last_line.startswith("error: --model google/gemma-3-270m: could not download it from the Hugging Face Hub")
    assert "pass a local model directory or a .gguf file" in last_line


@pytest.mark.parametrize("model, message", [
    ("no/such/dir", "--model no/such/dir: not a model directory (needs config.json and *.safetensors), "
                    "a .gguf file or a Hugging Face Hub id"),
    ("missing.gguf", "--model missing.gguf: no such .gguf file"),
])
def test_a_model_that_is_not_there_is_one_clear_line(model, message, tmp_path):
    code, stderr = run_script("--model", model, "--output_dir", str(tmp_path / "out"))
    assert code == 2 and "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith(f"error: {message}")


def test_a_gguf_file_as_model_is_converted_once_and_trains(tiny_model_dirs, tiny_data, tmp_path, monkeypatch):
    import ftkit.base_model
    from ftkit.errors import KitError
    from ftkit.gguf_export import write_gguf
    from ftkit.modeling import load_tokenizer
    from transformers import AutoModelForCausalLM

    source_dir = tiny_model_dirs["llama"]
    gguf_file = write_gguf(AutoModelForCausalLM.from_pretrained(source_dir), load_tokenizer(source_dir),
                           tmp_path / "gguf" / "tiny-llama.gguf", "f16", log=lambda message: None)
    monkeypatch.setattr(ftkit.base_model, "CONVERTED_MODELS_DIR", tmp_path / "models")
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(gguf_file, train, validation, tmp_path / "out", max_steps=1, report_to="none"))
    converted = tmp_path / "models" / "tiny-llama"
    assert (converted / "config.json").is_file() and str(gguf_file.resolve()) in (converted / "SOURCE.txt").read_text()
    assert (json.loads((run_dir / "adapter_config.json").read_text())["base_model_name_or_path"]
            == str(converted.resolve()))
    base, tokenizer = load_for_inference(source_dir, None)
    reloaded, _ = load_for_inference(converted, None)  # the same weights, through f16 (GGUF) and bf16 (saved)
    expected, converted_logits = logits_of(base, tokenizer), logits_of(reloaded, tokenizer)
    assert (converted_logits - expected).abs().max() < 0.03 * expected.abs().max()  # bf16 keeps about 3 digits
    assert (converted_logits.argmax(-1) == expected.argmax(-1)).float().mean() >= 0.9

    assert ftkit.base_model.ensure_base_model(gguf_file) == converted  # converted once, then reused
    other = tmp_path / "elsewhere" / "tiny-llama.gguf"  # another file of the same name
    other.parent.mkdir()
    other.write_bytes(gguf_file.read_bytes() + b"\0")
    with pytest.raises(KitError, match="holds a model that was not converted from"):
        ftkit.base_model.ensure_base_model(other)
