"""Tests of the merge script on tiny models: the merged folder loads without peft and computes what base + adapter
computes, keeps the chat template, is never overwritten, and an upload without network fails with one line."""

import json
from pathlib import Path

import pytest

import v1_000_merge as merge
from conftest import logits, make_perturbed_adapter
from ftkit.errors import user_errors_as_exit_codes

TEXT = "東京都渋谷区の会社員、山田太郎さん"


@pytest.fixture(scope="module")
def tiny_adapter_run(tiny_model_dirs, tmp_path_factory):
    """(base model dir, output root holding one finished run)."""
    output_root = tmp_path_factory.mktemp("merge-runs")
    make_perturbed_adapter(tiny_model_dirs["llama"], output_root / "20260101-000000_lora")
    return tiny_model_dirs["llama"], output_root


def test_merged_model_equals_base_plus_adapter_without_peft(tiny_adapter_run, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftkit.modeling import load_for_inference

    base_dir, output_root = tiny_adapter_run
    out = merge.main(merge.Settings(output_dir=str(output_root), output=str(tmp_path / "merged"), dtype="fp32"))
    adapter_dir = output_root / "20260101-000000_lora"

    merged = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)  # plain transformers, no peft
    assert not any("lora" in name for name, _ in merged.named_parameters())
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    with_adapter, _ = load_for_inference(base_dir, adapter_dir)
    base, _ = load_for_inference(base_dir, None)

    merged_logits = logits(merged, tokenizer, TEXT)
    assert torch.allclose(merged_logits, logits(with_adapter, tokenizer, TEXT), atol=1e-4)
    assert (merged_logits - logits(base, tokenizer, TEXT)).abs().max() > 0.5  # the adapter does change the model
    assert not (out / "adapter_config.json").exists()
    assert json.loads((out / "merged_from.json").read_text())["adapter"] == str(adapter_dir)


def test_default_output_is_beside_the_newest_run_in_bf16_and_never_overwritten(tiny_adapter_run, capsys):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, output_root = tiny_adapter_run
    first = merge.main(merge.Settings(output_dir=str(output_root)))
    second = merge.main(merge.Settings(output_dir=str(output_root)))
    assert first.name == "20260101-000000_lora-merged" and second.name == "20260101-000000_lora-merged-2"
    assert AutoModelForCausalLM.from_pretrained(str(first)).dtype == torch.bfloat16

    adapter_template = AutoTokenizer.from_pretrained(str(output_root / "20260101-000000_lora")).chat_template
    merged_tokenizer = AutoTokenizer.from_pretrained(str(first))
    assert adapter_template and merged_tokenizer.chat_template == adapter_template
    prompt = merged_tokenizer.apply_chat_template([{"role": "user", "content": "本文"}], tokenize=False,
                                                  add_generation_prompt=True)
    assert prompt.endswith("<start_of_turn>model\n")

    before = sorted(p.name for p in first.iterdir())
    with pytest.raises(SystemExit) as stopped, user_errors_as_exit_codes():
        merge.main(merge.Settings(output_dir=str(output_root), output=str(first)))
    assert stopped.value.code == 2
    assert "already exists; merged models are never overwritten" in capsys.readouterr().err
    assert sorted(p.name for p in first.iterdir()) == before
    assert not [p for p in output_root.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_push_to_hub_without_network_is_one_line_and_keeps_the_folder(tiny_adapter_run, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    _, output_root = tiny_adapter_run
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    out = tmp_path / "merged"
    with pytest.raises(SystemExit) as stopped, user_errors_as_exit_codes():
        merge.main(merge.Settings(output_dir=str(output_root), output=str(out), push_to_hub="someone/tiny-merged"))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith("error: could not upload") and "someone/tiny-merged" in last_line
    assert "Traceback" not in err and err.count("error:") == 1
    assert (out / "model.safetensors").is_file()


def test_base_model_comes_from_the_adapter_and_a_missing_one_is_named(tiny_adapter_run, tmp_path, capsys):
    from ftkit.runs import adapter_base_model

    base_dir, output_root = tiny_adapter_run
    assert Path(adapter_base_model(output_root / "20260101-000000_lora")) == base_dir
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    (orphan / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "someone/not-here"}))
    # a folder without weights is refused before the base model is looked up
    (orphan / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(SystemExit), user_errors_as_exit_codes():
        merge.main(merge.Settings(adapter=str(orphan)))
    assert "someone/not-here" in capsys.readouterr().err
