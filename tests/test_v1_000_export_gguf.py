"""Tests of the GGUF export on tiny models (Gemma 3, Llama, Qwen2, Qwen3): transformers reads the file back and
computes what the merged model computes (16-bit: same logits; Q8_0: same greedy next tokens), the tokenizer and
chat template survive, llama.cpp (through llama-cpp-python, when installed) generates what transformers
generates, and files are never overwritten. The Ollama Modelfile beside each file names it, stops at the chat
format's end-of-turn token, carries the run's system prompt, and its TEMPLATE writes the prompts the adapter's
chat template writes (rendered by the kit's Go-template renderer, which tests/ftkit/test_gguf_export.py checks
against Go's own). Unknown models and the renderer have their tests there."""

import importlib.util
import json

import pytest
from conftest import SYSTEM, TINY_RECORDS, build_tiny_model, build_tokenizer, make_perturbed_adapter, write_jsonl

import v1_000_export_gguf as export
from ftkit.gguf_export import QWEN2_SPLIT, adds_bos, ollama_messages, ollama_prompt, sample_conversations
from ftkit.settings import file_sha256
from ftkit.errors import user_errors_as_exit_codes

ARCHITECTURES = ("gemma3", "llama", "qwen2", "qwen3")
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
# Qwen2.5's chat template (without its tool calls): a default system prompt when the conversation has none.
QWEN25_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}"
    "{%- else %}{{- '<|im_start|>system\n" + QWEN_DEFAULT_SYSTEM + "<|im_end|>\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if not (message.role == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}")
# Qwen3's shape: no default system prompt; the answer of the last turn opens with an empty thinking block.
QWEN3_TEMPLATE = (
    "{%- for message in messages %}{%- if message.role == 'assistant' and loop.last %}"
    "{{- '<|im_start|>assistant\n<think>\n\n</think>\n\n' + message.content + '<|im_end|>\n' }}"
    "{%- else %}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}")


def build_qwen_tokenizer(chat_template: str):
    """A byte-level BPE tokenizer split like Qwen2's and Qwen3's (pre-tokenizer "qwen2" in llama.cpp), with ChatML's
    special tokens and no BOS, as Qwen's own tokenizers have."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [json.dumps(r, ensure_ascii=False) for r in TINY_RECORDS] * 5
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, min_frequency=2, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        additional_special_tokens=["<|im_start|>"])
    tokenizer.chat_template = chat_template
    return tokenizer


def build_tiny_qwen(architecture: str, tokenizer):
    """A tiny Qwen2 (q/k/v biases) or Qwen3 (q/k norms; head_dim 128, the default that transformers assumes when it
    reads a Qwen3 GGUF back), with the biases and norms moved off their initial values so that they matter."""
    import torch

    model = build_tiny_model(architecture, tokenizer, **({"head_dim": 128} if architecture == "qwen3" else {}))
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.ndim == 1:
                parameter.add_(torch.randn_like(parameter) * 0.1)
    return model

TEXTS = ["東京都渋谷区の会社員、山田太郎さん(35)が逮捕された。", '{"persons": [{"name": "田中花子"}]}', "日経平均株価は続落した。"]


def build_tiny_gemma3(tokenizer):
    """A tiny Gemma 3 as llama.cpp expects one: attention scaled by 1/sqrt(head_dim) and Gemma 3's own layer
    pattern (the conftest model scales by 1/sqrt(256) with head_dim 32, which llama.cpp would not reproduce)."""
    return build_tiny_model("gemma3", tokenizer, head_dim=256, query_pre_attn_scalar=256, sliding_window=512,
                            layer_types=None)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{architecture: (base dir, run dir)}: tiny models with perturbed adapters. The Gemma run records its training
    file as a real run does (run.json), so that the Modelfile finds the system prompt it trained with."""
    result = {}
    for architecture in ARCHITECTURES:
        tokenizer = build_tokenizer() if architecture in ("gemma3", "llama") else build_qwen_tokenizer(
            QWEN25_TEMPLATE if architecture == "qwen2" else QWEN3_TEMPLATE)
        base_dir = tmp_path_factory.mktemp(f"gguf-tiny-{architecture}")
        model = (build_tiny_gemma3(tokenizer) if architecture == "gemma3" else build_tiny_model("llama", tokenizer)
                 if architecture == "llama" else build_tiny_qwen(architecture, tokenizer))
        model.save_pretrained(base_dir)
        tokenizer.save_pretrained(base_dir)
        output_root = tmp_path_factory.mktemp(f"gguf-runs-{architecture}")
        run_dir = make_perturbed_adapter(base_dir, output_root / "20260101-000000_lora", scale=0.1)
        result[architecture] = (base_dir, run_dir)
    train = write_jsonl(tmp_path_factory.mktemp("gguf-data") / "train.jsonl", TINY_RECORDS)
    (result["gemma3"][1] / "run.json").write_text(json.dumps({"settings": {"train_file": str(train)},
                                                              "data_sha256": {str(train): file_sha256(train)}}))
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


@pytest.mark.parametrize("architecture,gguf_type", [("gemma3", "bf16"), ("gemma3", "f16"), ("llama", "f16"),
                                                   ("qwen2", "f16"), ("qwen3", "bf16")])
def test_16_bit_file_read_by_transformers_gives_the_merged_models_logits(runs, merged, tmp_path, architecture,
                                                                         gguf_type):
    import torch

    from ftkit.modeling import load_for_inference

    path = export.main(export.Settings(adapter=str(runs[architecture][1]), output=str(tmp_path / "m.gguf"),
                                       type=gguf_type))
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


@pytest.mark.parametrize("architecture", ARCHITECTURES)
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
    assert first.with_suffix(".Modelfile").is_file() and second.with_suffix(".md").is_file()
    size = first.stat().st_size
    with pytest.raises(SystemExit) as stopped, user_errors_as_exit_codes():
        export.main(export.Settings(output_dir=str(run_dir.parent), output=str(first), type="f16"))
    assert stopped.value.code == 2 and "never overwritten" in capsys.readouterr().err
    assert first.stat().st_size == size
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_file_beside_the_output_is_never_overwritten_and_the_default_name_skips_it(runs, tmp_path, capsys):
    from ftkit.merging import new_output_path

    _, run_dir = runs["llama"]
    (tmp_path / "m.md").write_text("a card of another export")
    with pytest.raises(SystemExit) as stopped, user_errors_as_exit_codes():
        export.main(export.Settings(adapter=str(run_dir), output=str(tmp_path / "m.gguf")))
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and f"{tmp_path / 'm.md'} already exists; GGUF files and the files beside" in err
    with pytest.raises(SystemExit), user_errors_as_exit_codes():
        export.main(export.Settings(adapter=str(run_dir), output=str(tmp_path / "m.bin")))
    assert "the file name must end in .gguf" in capsys.readouterr().err
    chosen = new_output_path("", tmp_path / "m.gguf", "GGUF files", beside=export.files_beside)
    assert chosen == tmp_path / "m-2.gguf" and sorted(p.name for p in tmp_path.iterdir()) == ["m.md"]


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python is not installed "
                           "(optional: pip install llama-cpp-python, builds llama.cpp)")
@pytest.mark.parametrize("architecture", ARCHITECTURES)
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


# ---------------------------------------------------------------------------------------------- Ollama Modelfile


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """(COMMAND, value) pairs as Ollama's parser reads them: # comments, values bare, in "..." or in \"\"\"...\"\"\"
    (which may span lines and hold quotes)."""
    commands, rest = [], text
    while rest:
        line, _, after = rest.partition("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            rest = after
            continue
        name, _, value = line.partition(" ")
        if value.startswith('"""'):
            body, _, rest = rest[len(name) + 4:].partition('"""')
            value, rest = body, rest.partition("\n")[2]
        else:
            value, rest = (value[1:-1] if value.startswith('"') and value.endswith('"') else value), after
        commands.append((name.upper(), value))
    return commands


def modelfile_of(gguf_path):
    commands = parse_modelfile(gguf_path.with_suffix(".Modelfile").read_text(encoding="utf-8"))
    single = {name: value for name, value in commands if name != "PARAMETER"}
    parameters = [value.split(" ", 1) for name, value in commands if name == "PARAMETER"]
    stops = [value.strip('"') for key, value in parameters if key == "stop"]
    return single, dict(parameters), stops


def prompts_agree(template: str, tokenizer, system, file_tokenizer) -> None:
    """The TEMPLATE writes, for sample conversations as Ollama hands them over (SYSTEM first), the prompt the
    adapter's chat template writes; and the file's tokenizer turns it into the ids training used (BOS once)."""
    add_bos = adds_bos(tokenizer)
    conversations = sample_conversations(system) + [record["messages"][:2] for record in TINY_RECORDS[:2]]
    for conversation in conversations:
        sent = [{"role": m["Role"], "content": m["Content"]} for m in ollama_messages(conversation, system)[1]]
        expected = tokenizer.apply_chat_template(sent, tokenize=False, add_generation_prompt=True)
        written = ollama_prompt(template, conversation, system)
        with_bos = add_bos and expected.startswith(tokenizer.bos_token)
        assert (tokenizer.bos_token + written if with_bos else written) == expected
        ids = tokenizer.apply_chat_template(sent, tokenize=True, add_generation_prompt=True, return_dict=False)
        assert file_tokenizer(written).input_ids == ids


def test_modelfile_for_gemma_names_the_file_stops_at_end_of_turn_and_has_the_training_system_prompt(runs, merged,
                                                                                                    tmp_path):
    from huggingface_hub import ModelCard

    path = export.main(export.Settings(adapter=str(runs["gemma3"][1]), output=str(tmp_path / "m.gguf"), type="f16"))
    single, parameters, stops = modelfile_of(path)
    assert single["FROM"] == "./m.gguf" and (tmp_path / single["FROM"]).is_file()
    assert stops == ["<end_of_turn>"] and parameters["temperature"] == "0"
    assert single["SYSTEM"] == SYSTEM  # the system prompt of the run's training data (run.json -> train_file)
    tokenizer = merged["gemma3"][1]
    assert single["TEMPLATE"].startswith("<bos>")  # the chat template writes BOS; this tokenizer adds none itself
    prompts_agree(single["TEMPLATE"], tokenizer, SYSTEM, read_back(path)[1])

    card = ModelCard.load(str(path.with_suffix(".md"))).data.to_dict()
    assert card["library_name"] == "gguf" and {"gguf", "lora", "ftkit"} <= set(card["tags"])
    assert card["license"] == "gemma"
    assert "ollama create m -f m.Modelfile" in path.with_suffix(".md").read_text(encoding="utf-8")


@pytest.mark.parametrize("architecture,system_prompt,expected_system", [
    ("qwen2", "", QWEN_DEFAULT_SYSTEM),  # none given: Qwen2.5's template writes its default, so SYSTEM says it
    ("qwen3", SYSTEM, SYSTEM),
])
def test_modelfile_for_qwen_is_chatml_with_its_stop_token(runs, merged, tmp_path, architecture, system_prompt,
                                                          expected_system):
    path = export.main(export.Settings(adapter=str(runs[architecture][1]), output=str(tmp_path / "q.gguf"), type="f16",
                                       system_prompt=system_prompt))
    single, parameters, stops = modelfile_of(path)
    assert single["FROM"] == "./q.gguf" and stops == ["<|im_end|>"] and parameters["temperature"] == "0"
    assert single["SYSTEM"] == expected_system
    assert single["TEMPLATE"].startswith("{{") and "<|im_start|>" in single["TEMPLATE"]  # no BOS: Qwen has none
    prompts_agree(single["TEMPLATE"], merged[architecture][1], expected_system, read_back(path)[1])


def test_the_export_check_compares_a_read_back_file_with_the_merged_model_and_leaves_nothing(runs, tmp_path, capsys):
    import v1_000_check_gguf_export as check

    base_dir, run_dir = runs["gemma3"]
    validation = write_jsonl(tmp_path / "validation.jsonl", TINY_RECORDS[:2])
    before = sorted(p.name for p in run_dir.parent.iterdir())
    results = check.main(check.Settings(adapter=str(run_dir), validation_file=str(validation), types=" f16, ",
                                        llama_cpp_samples=0))
    assert list(results) == ["f16"]  # the comma list, stripped
    result = results["f16"]
    assert result["next_token_agreement"] == 1.0 and result["first_answer_token_agreement"] == "2/2"
    assert 0 < result["max_abs_logit_diff"] < 0.05 and result["tokenizer_same_ids"] == "2/2"
    assert result["chat_template_kept"]
    assert sorted(p.name for p in run_dir.parent.iterdir()) == before  # the files went to a temporary folder
    out = capsys.readouterr().out
    assert f"| f16 | {result['file_mib']} | {result['max_abs_logit_diff']} | 1.0 ({result['positions']}) |" in out
