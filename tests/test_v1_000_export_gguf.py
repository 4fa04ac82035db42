"""Tests of the GGUF export on tiny models: transformers reads the file back and computes what the merged model
computes (16-bit: same logits; Q8_0: same greedy next tokens), the tokenizer and chat template survive, llama.cpp
(through llama-cpp-python, when installed) generates what transformers generates, files are never overwritten,
and a model the exporter does not know gets one clear line."""

import importlib.util

import pytest

import v1_000_export_gguf as export
from conftest import TINY_RECORDS, build_tiny_model, build_tokenizer
from ftkit.errors import KitError
from lora_helpers import make_perturbed_adapter

TEXTS = ["東京都渋谷区の会社員、山田太郎さん(35)が逮捕された。", '{"persons": [{"name": "田中花子"}]}', "日経平均株価は続落した。"]


def build_tiny_gemma3(tokenizer):
    """A tiny Gemma 3 as llama.cpp expects one: attention scaled by 1/sqrt(head_dim) and Gemma 3's own layer
    pattern (the conftest model scales by 1/sqrt(256) with head_dim 32, which llama.cpp would not reproduce)."""
    return build_tiny_model("gemma3", tokenizer, head_dim=256, query_pre_attn_scalar=256, sliding_window=512,
                            layer_types=None)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"gemma3": (base dir, run dir), "llama": (base dir, run dir)}: tiny models with perturbed adapters."""
    tokenizer = build_tokenizer()
    result = {}
    for architecture in ("gemma3", "llama"):
        base_dir = tmp_path_factory.mktemp(f"gguf-tiny-{architecture}")
        model = build_tiny_gemma3(tokenizer) if architecture == "gemma3" else build_tiny_model("llama", tokenizer)
        model.save_pretrained(base_dir)
        tokenizer.save_pretrained(base_dir)
        output_root = tmp_path_factory.mktemp(f"gguf-runs-{architecture}")
        result[architecture] = (base_dir, make_perturbed_adapter(base_dir, output_root / "20260101-000000_lora", scale=0.1))
    return result


@pytest.fixture(scope="module")
def merged(runs):
    """{"gemma3": (merged model, tokenizer), "llama": ...}, merged once (fp32)."""
    from ftkit.merging import merge_adapter

    return {architecture: merge_adapter(base_dir, run_dir) for architecture, (base_dir, run_dir) in runs.items()}


def read_back(path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = dict(gguf_file=path.name)
    return (AutoModelForCausalLM.from_pretrained(str(path.parent), dtype=torch.float32, **kwargs),
            AutoTokenizer.from_pretrained(str(path.parent), **kwargs))


def rounded_like_gguf(model, gguf_type: str):
    """The merged model with its weight matrices rounded to the file's 16-bit format (norms stay fp32 there)."""
    import copy

    import torch

    dtype = torch.bfloat16 if gguf_type == "bf16" else torch.float16
    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in rounded.parameters():
            if parameter.ndim >= 2:
                parameter.copy_(parameter.to(dtype).float())
    return rounded


def chat_ids(tokenizer, record):
    return tokenizer.apply_chat_template(record["messages"], tokenize=True, return_dict=False)


def all_logits(model, tokenizer):
    import torch

    with torch.no_grad():
        return [model(torch.tensor([chat_ids(tokenizer, record)])).logits[0] for record in TINY_RECORDS]


@pytest.mark.parametrize("architecture,gguf_type", [("gemma3", "bf16"), ("gemma3", "f16"), ("llama", "f16")])
def test_16_bit_file_read_by_transformers_gives_the_merged_models_logits(runs, merged, tmp_path, architecture, gguf_type):
    import torch

    from ftkit.modeling import load_for_inference

    path = export.main(export.Settings(adapter=str(runs[architecture][1]), output=str(tmp_path / "m.gguf"), type=gguf_type))
    merged_model, tokenizer = merged[architecture]
    from_file, file_tokenizer = read_back(path)
    base, _ = load_for_inference(runs[architecture][0], None)

    for ids_text in TEXTS:
        assert file_tokenizer(ids_text).input_ids == tokenizer(ids_text).input_ids
    assert file_tokenizer.chat_template == tokenizer.chat_template
    expected = all_logits(rounded_like_gguf(merged_model, gguf_type), tokenizer)
    exact = all_logits(merged_model, tokenizer)
    got = all_logits(from_file, tokenizer)
    without_adapter = all_logits(base, tokenizer)
    for want, want_exact, have, base_logits in zip(expected, exact, got, without_adapter):
        assert torch.allclose(have, want, atol=2e-3), (have - want).abs().max()
        assert (have - want_exact).abs().max() < 0.02 * want_exact.abs().max()  # bf16 rounding of the weights only
        assert (have - base_logits).abs().max() > 0.5  # the adapter is in the file


def q8_0_rounded(model):
    """The merged model with its weight matrices quantized to Q8_0 and back by gguf's own quantizer."""
    import copy

    import gguf
    import torch

    q8_0 = gguf.GGMLQuantizationType.Q8_0
    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in rounded.parameters():
            if parameter.ndim == 2:
                blocks = gguf.quants.quantize(parameter.detach().numpy(), q8_0)
                parameter.copy_(torch.from_numpy(gguf.quants.dequantize(blocks, q8_0).reshape(parameter.shape)))
    return rounded


@pytest.mark.parametrize("architecture", ["gemma3", "llama"])
def test_q8_0_file_holds_the_quantized_merge_and_keeps_the_greedy_next_tokens(runs, merged, tmp_path, architecture):
    import torch

    path = export.main(export.Settings(adapter=str(runs[architecture][1]), output=str(tmp_path / "m.gguf")))
    merged_model, tokenizer = merged[architecture]
    from_file, _ = read_back(path)
    exact = torch.cat(all_logits(merged_model, tokenizer))
    got = torch.cat(all_logits(from_file, tokenizer))
    assert torch.allclose(got, torch.cat(all_logits(q8_0_rounded(merged_model), tokenizer)), atol=2e-3)
    # A tiny random model has many near-ties that any rounding flips (the random Llama here amplifies the Q8_0
    # error to 3 logits); agreement is counted where the merged model prefers its token by half a logit. The
    # real model's agreement over all positions is measured by v1_000_check_gguf_export.py (README).
    best_two = exact.topk(2, dim=-1).values
    decided = best_two[:, 0] - best_two[:, 1] > 0.5
    assert decided.sum() > 80
    assert (exact.argmax(-1) == got.argmax(-1))[decided].float().mean() >= 0.99


def test_default_name_is_beside_the_run_and_nothing_is_overwritten(runs, capsys):
    _, run_dir = runs["llama"]
    first = export.main(export.Settings(output_dir=str(run_dir.parent)))
    second = export.main(export.Settings(output_dir=str(run_dir.parent)))
    assert (first.name, second.name) == ("20260101-000000_lora-q8_0.gguf", "20260101-000000_lora-q8_0-2.gguf")
    size = first.stat().st_size
    with pytest.raises(SystemExit) as stopped:
        export.main(export.Settings(output_dir=str(run_dir.parent), output=str(first), type="f16"))
    assert stopped.value.code == 2 and "never overwritten" in capsys.readouterr().err
    assert first.stat().st_size == size
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_unsupported_models_get_one_clear_line(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from ftkit.gguf_export import write_gguf

    tokenizer = build_tokenizer()
    qwen = AutoModelForCausalLM.from_config(Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                                                        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1),
                                            dtype=torch.float32)
    with pytest.raises(KitError, match="GGUF export of Qwen2ForCausalLM is not supported yet"):
        write_gguf(qwen, tokenizer, tmp_path / "q.gguf")
    # the conftest Gemma 3 scales attention by 1/sqrt(256) with 32-wide heads: llama.cpp would compute another model
    with pytest.raises(KitError, match="query_pre_attn_scalar is 256"):
        write_gguf(build_tiny_model("gemma3", tokenizer), tokenizer, tmp_path / "g.gguf")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python is not installed (optional: pip install llama-cpp-python, builds llama.cpp)")
@pytest.mark.parametrize("architecture", ["gemma3", "llama"])
def test_llama_cpp_generates_what_transformers_generates(runs, merged, tmp_path, architecture):
    import llama_cpp
    import torch

    path = export.main(export.Settings(adapter=str(runs[architecture][1]), output=str(tmp_path / "m.gguf"), type="f16"))
    merged_model, tokenizer = merged[architecture]
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=2, verbose=False)
    for record in TINY_RECORDS:
        prompt = tokenizer.apply_chat_template(record["messages"][:2], tokenize=False, add_generation_prompt=True)
        ids = tokenizer(prompt, add_special_tokens=False).input_ids
        assert llm.tokenize(prompt.encode(), add_bos=False, special=True) == ids  # llama.cpp's own tokenizer agrees
        with torch.no_grad():
            expected = merged_model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False, eos_token_id=None,
                                       pad_token_id=tokenizer.pad_token_id)[0, len(ids):].tolist()
        llm.reset()
        got = []
        for token in llm.generate(ids, temp=0.0, top_k=1, reset=True):
            got.append(token)
            if len(got) == len(expected):
                break
        assert got == expected
