"""Writing a (merged) transformers model as one GGUF file for llama.cpp-based tools (llama-cli, llama-server, Ollama).

Built on the `gguf` package, llama.cpp's own Python writer: its `GGUFWriter`, its key names, its map from
Hugging Face tensor names to GGUF names and its Q8_0 quantizer. What llama.cpp's `convert_hf_to_gguf.py` does
differently from a plain copy is repeated here for the supported architectures, each where it happens:

- Gemma 3: RMSNorm weights are stored as `1 + w` (Gemma computes `x * (1 + w)`, llama.cpp `x * w`); the
  sliding-window layer pattern and its rope base are written per layer; the output head is the tied embedding.
- Llama: the rows of the q and k projections are reordered from the halves layout of transformers' rotary
  embedding to the interleaved pairs llama.cpp rotates.
- Qwen2 and Qwen3 (dense): copied as they are (llama.cpp rotates them in the halves layout, "NEOX"); Qwen2's q/k/v
  biases and Qwen3's per-head q/k RMSNorms (`attn_q_norm`, `attn_k_norm`, plain `x * w`) go in under their GGUF
  names; the head size is written when it is not hidden_size / heads (Qwen3's 128).

The tokenizer goes in as llama.cpp metadata: a sentencepiece-style vocabulary (Gemma, Llama 1/2, TinyLlama) as
tokens, scores and token types; a byte-level BPE one (Llama 3, GPT-2 style) as tokens and merges with its
pre-tokenizer's name (GPT-2's, Llama 3's or Qwen2's split). The chat template goes in as `tokenizer.chat_template`.
"""

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import KitError

GGUF_TYPES = ("bf16", "f16", "q8_0")
SUPPORTED_ARCHITECTURES = ("Gemma3ForCausalLM", "LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM")

# The regular expression Llama 3's tokenizer splits text with; llama.cpp knows it as pre-tokenizer "llama-bpe".
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                r"|\s+(?!\S)|\s+")
# Qwen2's and Qwen3's split (numbers one digit at a time); llama.cpp knows it as pre-tokenizer "qwen2".
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
               r"|\s+(?!\S)|\s+")
SPM_SPACE = "\u2581"
# The tokens that end a turn in the chat formats the kit knows: Gemma's, ChatML's (Qwen, SmolLM2), Llama 3's.
END_OF_TURN_TOKENS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>")


def model_architecture(model) -> str:
    """The transformers class name of the model; a KitError for one this module cannot write."""
    names = list(getattr(model.config, "architectures", None) or []) or [type(model).__name__]
    architecture = names[0]
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise KitError(f"GGUF export of {architecture} is not supported yet "
                       f"(supported: {', '.join(SUPPORTED_ARCHITECTURES)})")
    return architecture


def write_gguf(model, tokenizer, out_path: str | Path, gguf_type: str = "q8_0", name: str = "", log=print) -> Path:
    """Write `model` (a merged transformers model, any float dtype) and `tokenizer` to `out_path`.

    Written to a hidden temporary file beside `out_path` and linked to its name at the end: the file is complete
    or absent, and an existing file is never replaced.
    """
    import gguf

    if gguf_type not in GGUF_TYPES:
        raise KitError(f"--type is '{gguf_type}', expected one of: {', '.join(GGUF_TYPES)}")
    out_path = Path(out_path)
    if out_path.exists():
        raise KitError(f"{out_path} already exists; GGUF files are never overwritten (choose another --output)")
    architecture = model_architecture(model)
    gguf_arch = gguf_architecture(architecture)
    config = model.config
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(f".{out_path.name}.incomplete-{os.getpid()}")
    writer = gguf.GGUFWriter(str(temporary), gguf.MODEL_ARCH_NAMES[gguf_arch])
    try:
        writer.add_name(name or out_path.stem)
        if gguf_arch == gguf.MODEL_ARCH.GEMMA3:
            add_gemma3_parameters(writer, config)
        elif gguf_arch == gguf.MODEL_ARCH.LLAMA:
            add_llama_parameters(writer, config)
        else:
            add_qwen_parameters(writer, config, architecture)
        writer.add_file_type({"bf16": gguf.LlamaFileType.MOSTLY_BF16, "f16": gguf.LlamaFileType.MOSTLY_F16,
                              "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[gguf_type])
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        embedding_rows = model.get_input_embeddings().weight.shape[0]
        add_tokenizer(writer, tokenizer, embedding_rows, gemma=gguf_arch == gguf.MODEL_ARCH.GEMMA3)
        add_tensors(writer, model, gguf_arch, gguf_type, log)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        try:
            os.link(temporary, out_path)  # fails rather than replace a file that appeared meanwhile
        except FileExistsError:
            raise KitError(f"{out_path} appeared while the GGUF file was written; nothing was overwritten") from None
    finally:
        writer.close()
        temporary.unlink(missing_ok=True)
    return out_path


def gguf_architecture(architecture: str):
    """llama.cpp's architecture for a supported transformers class."""
    import gguf

    return {"Gemma3ForCausalLM": gguf.MODEL_ARCH.GEMMA3, "LlamaForCausalLM": gguf.MODEL_ARCH.LLAMA,
            "Qwen2ForCausalLM": gguf.MODEL_ARCH.QWEN2, "Qwen3ForCausalLM": gguf.MODEL_ARCH.QWEN3}[architecture]


# ---- hyperparameters --------------------------------------------------------------------------------------


def rope(config, layer_type: str | None = None) -> dict:
    """The rope parameters of one layer type (transformers 5 keeps them per layer type for Gemma 3)."""
    parameters = dict(getattr(config, "rope_parameters", None) or {})
    if layer_type and layer_type in parameters:
        parameters = dict(parameters[layer_type])
    if "rope_theta" not in parameters:  # older transformers: plain attributes
        parameters["rope_theta"] = (config.rope_local_base_freq if layer_type == "sliding_attention"
                                    else config.rope_theta)
    parameters.setdefault("rope_type", "default")
    return parameters


def add_rope_scaling(writer, parameters: dict, architecture: str) -> None:
    import gguf

    kind = parameters.get("rope_type", "default")
    if kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(parameters["factor"])
    elif kind != "default":
        raise KitError(f"GGUF export of {architecture} with rope scaling '{kind}' is not supported yet "
                       "(default and linear are)")


def add_gemma3_parameters(writer, config) -> None:
    layer_types = list(config.layer_types)
    # llama.cpp does not read these from the file: it hard-codes Gemma 3's choices. Refuse a model that differs
    # rather than write a file that llama.cpp would run as another model.
    expected_scalar = (config.hidden_size / config.num_attention_heads if config.num_hidden_layers == 62
                       else config.head_dim)
    if config.query_pre_attn_scalar != expected_scalar:
        raise KitError(f"GGUF export of Gemma3ForCausalLM: query_pre_attn_scalar is "
                       f"{config.query_pre_attn_scalar}, but "
                       f"llama.cpp scales attention by 1/sqrt({expected_scalar:g}) for this model")
    if getattr(config, "attn_logit_softcapping", None) is not None:
        raise KitError("GGUF export of Gemma3ForCausalLM: attention logit soft-capping is not supported by "
                       "llama.cpp's Gemma 3")
    if config.hidden_activation != "gelu_pytorch_tanh":
        raise KitError(f"GGUF export of Gemma3ForCausalLM: activation {config.hidden_activation} "
                       "(llama.cpp uses gelu_pytorch_tanh)")
    add_transformer_shape(writer, config)
    writer.add_key_length(config.head_dim)
    writer.add_value_length(config.head_dim)
    full = rope(config, "full_attention")
    writer.add_rope_freq_base(full["rope_theta"])
    add_rope_scaling(writer, full, "Gemma3ForCausalLM")
    if "sliding_attention" in layer_types:
        writer.add_sliding_window(config.sliding_window)
        writer.add_sliding_window_pattern([layer_type == "sliding_attention" for layer_type in layer_types])
        writer.add_rope_freq_base_swa(rope(config, "sliding_attention")["rope_theta"])
    if getattr(config, "final_logit_softcapping", None):
        writer.add_final_logit_softcapping(config.final_logit_softcapping)


def add_transformer_shape(writer, config) -> None:
    """The sizes every decoder-only architecture writes alike."""
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)


def add_llama_parameters(writer, config) -> None:
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise KitError("GGUF export of LlamaForCausalLM with attention or MLP biases is not supported yet")
    if config.hidden_act != "silu":
        raise KitError(f"GGUF export of LlamaForCausalLM: activation {config.hidden_act} (llama.cpp uses silu)")
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    add_transformer_shape(writer, config)
    writer.add_rope_dimension_count(head_dim)
    if head_dim != config.hidden_size // config.num_attention_heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    parameters = rope(config)
    writer.add_rope_freq_base(parameters["rope_theta"])
    add_rope_scaling(writer, parameters, "LlamaForCausalLM")
    writer.add_vocab_size(config.vocab_size)


def add_qwen_parameters(writer, config, architecture: str) -> None:
    """Qwen2 / Qwen3 (dense), as llama.cpp's converter writes them (its generic hyperparameters: Qwen3Model only
    changes the architecture name). llama.cpp reads neither a sliding window nor biases on Qwen3's projections,
    so a model with them is refused rather than written as another model."""
    if config.hidden_act != "silu":
        raise KitError(f"GGUF export of {architecture}: activation {config.hidden_act} (llama.cpp uses silu)")
    if getattr(config, "sliding_window", None) and "sliding_attention" in (getattr(config, "layer_types", None) or []):
        raise KitError(f"GGUF export of {architecture} with sliding-window layers is not supported yet (llama.cpp "
                       "attends over the whole context in every layer)")
    if architecture == "Qwen3ForCausalLM" and (getattr(config, "attention_bias", False)):
        raise KitError("GGUF export of Qwen3ForCausalLM with attention biases is not supported yet")
    add_transformer_shape(writer, config)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    if head_dim != config.hidden_size // config.num_attention_heads or architecture == "Qwen3ForCausalLM":
        writer.add_key_length(head_dim)  # Qwen3 keeps head_dim in its config.json: the converter writes it
        writer.add_value_length(head_dim)
    parameters = rope(config)
    writer.add_rope_freq_base(parameters["rope_theta"])
    add_rope_scaling(writer, parameters, architecture)


# ---- tensors ----------------------------------------------------------------------------------------------


def llama_rotary_permute(weight, num_heads: int):
    """transformers rotates the two halves of each head; llama.cpp rotates adjacent pairs: reorder the rows so."""
    return (weight.reshape(num_heads, 2, weight.shape[0] // num_heads // 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def add_tensors(writer, model, gguf_arch, gguf_type: str, log=print) -> None:
    import gguf
    import numpy as np
    import torch

    config = model.config
    names = gguf.get_tensor_name_map(gguf_arch, config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    fallbacks = []
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp uses the token embedding as the output head when there is no output.weight
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise KitError(f"GGUF export: tensor {hf_name} has no GGUF name for {gguf.MODEL_ARCH_NAMES[gguf_arch]}")
        data = tensor.detach().to(torch.float32)
        if gguf_arch == gguf.MODEL_ARCH.GEMMA3 and hf_name.endswith("norm.weight"):
            data = data + 1.0
        if gguf_arch == gguf.MODEL_ARCH.LLAMA and hf_name.endswith("self_attn.q_proj.weight"):
            data = llama_rotary_permute(data, config.num_attention_heads)
        if gguf_arch == gguf.MODEL_ARCH.LLAMA and hf_name.endswith("self_attn.k_proj.weight"):
            data = llama_rotary_permute(data, config.num_key_value_heads)
        array = data.numpy()
        if array.ndim == 1:  # norms stay fp32, as llama.cpp stores them
            writer.add_tensor(gguf_name, array.astype(np.float32))
        elif gguf_type == "q8_0" and array.shape[-1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0:
            writer.add_tensor(gguf_name, gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0),
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        elif gguf_type == "bf16":
            writer.add_tensor(gguf_name, gguf.quants.quantize(array, gguf.GGMLQuantizationType.BF16),
                              raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            if gguf_type == "q8_0":
                fallbacks.append(gguf_name)  # rows not a multiple of the 32-value block: llama.cpp falls back too
            writer.add_tensor(gguf_name, array.astype(np.float16))
    if fallbacks:
        log(f"[gguf] {len(fallbacks)} tensors kept in f16 (row length not a multiple of 32): "
            f"{', '.join(fallbacks[:3])}")


# ---- tokenizer --------------------------------------------------------------------------------------------


def add_tokenizer(writer, tokenizer, embedding_rows: int, gemma: bool) -> None:
    """Vocabulary, special tokens, BOS/EOS behaviour and chat template, as llama.cpp reads them."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec["model"]["type"] != "BPE":
        raise KitError(f"GGUF export: tokenizer model {spec['model']['type']} is not supported yet (BPE is)")
    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    if max(by_id) >= embedding_rows:
        raise KitError(f"GGUF export: the tokenizer has token id {max(by_id)}, "
                       f"beyond the model's {embedding_rows} embeddings")
    added = {entry["id"]: entry for entry in spec.get("added_tokens", [])}
    if is_byte_level(spec):
        add_byte_level_vocabulary(writer, spec, by_id, added, embedding_rows)
    elif spec["model"].get("byte_fallback"):
        add_sentencepiece_vocabulary(writer, spec, by_id, added, embedding_rows, gemma)
    else:
        raise KitError("GGUF export: the tokenizer is neither sentencepiece-style (byte fallback) nor byte-level BPE")

    for kind in ("bos", "eos", "unk", "pad"):
        token_id = getattr(tokenizer, f"{kind}_token_id")
        if token_id is not None:
            {"bos": writer.add_bos_token_id, "eos": writer.add_eos_token_id, "unk": writer.add_unk_token_id,
             "pad": writer.add_pad_token_id}[kind](token_id)
    end_of_turn = next((tokenizer.get_vocab()[token] for token in END_OF_TURN_TOKENS if token in tokenizer.get_vocab()),
                       None)
    if end_of_turn is not None:
        writer.add_eot_token_id(end_of_turn)  # the turn end (Gemma's, ChatML's, Llama 3's): llama.cpp stops there too
    sample = tokenizer("a").input_ids
    writer.add_add_bos_token(tokenizer.bos_token_id is not None and sample[:1] == [tokenizer.bos_token_id])
    writer.add_add_eos_token(tokenizer.eos_token_id is not None and sample[-1:] == [tokenizer.eos_token_id])
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)


def is_byte_level(spec: dict) -> bool:
    def kinds(component) -> list:
        if not component:
            return []
        parts = component.get("pretokenizers") or component.get("decoders") or [component]
        return [part.get("type") for part in parts]

    return "ByteLevel" in kinds(spec.get("pre_tokenizer")) + kinds(spec.get("decoder"))


def add_sentencepiece_vocabulary(writer, spec, by_id: dict, added: dict, rows: int, gemma: bool) -> None:
    """llama.cpp's "llama" vocabulary: tokens with scores and types; llama.cpp merges by score.

    Sentencepiece vocabularies are sorted by score, best first, so -id keeps the order llama.cpp merges in
    (only the order matters). Gemma's runs of spaces are user-defined tokens spelled with real spaces in its
    sentencepiece model; transformers respells them with U+2581 when it reads a GGUF, so they are spelled back.
    """
    import gguf

    tokens, scores, types = [], [], []
    for index in range(rows):
        token = by_id.get(index)
        if token is None:
            token, score, kind = f"[PAD{index}]", -1000.0, gguf.TokenType.UNUSED
        elif index in added:
            score, kind = -1000.0, gguf.TokenType.CONTROL if added[index]["special"] else gguf.TokenType.USER_DEFINED
        elif re.fullmatch(r"<0x[0-9A-F]{2}>", token):
            score, kind = 0.0, gguf.TokenType.BYTE
        elif gemma and len(token) > 1 and set(token) == {SPM_SPACE}:
            token, score, kind = " " * len(token), -1000.0, gguf.TokenType.USER_DEFINED
        else:
            score, kind = float(-index), gguf.TokenType.NORMAL
        tokens.append(token)
        scores.append(score)
        types.append(kind)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_add_space_prefix(adds_space_prefix(spec))


def adds_space_prefix(spec: dict) -> bool:
    """Whether the tokenizer puts U+2581 before the text (Llama 2 does, Gemma does not)."""
    text = json.dumps([spec.get("normalizer"), spec.get("pre_tokenizer")])
    return '"Prepend"' in text or ('"Metaspace"' in text and '"prepend_scheme": "never"' not in text)


def add_byte_level_vocabulary(writer, spec, by_id: dict, added: dict, rows: int) -> None:
    """llama.cpp's "gpt2" vocabulary: tokens in the byte alphabet, merges, and the pre-tokenizer's name."""
    import gguf

    tokens, types = [], []
    for index in range(rows):
        token = by_id.get(index)
        if token is None:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.NORMAL if index not in added
                         else gguf.TokenType.CONTROL if added[index]["special"] else gguf.TokenType.USER_DEFINED)
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in spec["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(byte_level_pre_tokenizer(spec))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)


def byte_level_pre_tokenizer(spec: dict) -> str:
    """llama.cpp's name for how the text is split before the merges: GPT-2's regular expression or Llama 3's."""
    pre = spec.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt-2"
    parts = pre.get("pretokenizers") or []
    regexes = [part.get("pattern", {}).get("Regex") for part in parts if part.get("type") == "Split"]
    if regexes == [LLAMA3_SPLIT]:
        return "llama-bpe"
    if regexes == [QWEN2_SPLIT]:
        return "qwen2"
    raise KitError("GGUF export: this byte-level tokenizer splits text in a way llama.cpp does not know by name "
                   "(supported: GPT-2's, Llama 3's and Qwen2's)")


# ---- Ollama Modelfile -------------------------------------------------------------------------------------
#
# Ollama formats a conversation with a Go text/template over `.Messages` (each with `.Role` and `.Content`),
# after two steps of its own: a Modelfile's SYSTEM becomes a first system message when the request starts
# with none, and consecutive messages of one role are joined with a blank line. The templates below write the
# chat formats the kit knows exactly as their Hugging Face (Jinja) templates do for a conversation that ends
# with the user (the prompt the model answers); `modelfile_text` checks that on sample conversations with the
# small renderer further down, which knows the part of Go's template language these templates use.

OLLAMA_TEMPLATES = {
    # Gemma: no system role; the system message is folded into the first user turn, followed by a blank line.
    "gemma": (
        '{{- range $i, $_ := .Messages }}{{- $last := eq (len (slice $.Messages $i)) 1 }}'
        '{{- if eq .Role "user" }}<start_of_turn>user\n'
        '{{ if and (eq $i 1) (eq (index $.Messages 0).Role "system") }}{{ (index $.Messages 0).Content }}\n\n{{ end }}'
        '{{ .Content }}<end_of_turn>\n'
        '{{ if $last }}<start_of_turn>model\n{{ end }}'
        '{{- else if eq .Role "assistant" }}<start_of_turn>model\n'
        '{{ .Content }}{{ if not $last }}<end_of_turn>\n{{ end }}'
        '{{- end }}{{- end }}',
        ["<end_of_turn>"]),
    # ChatML (Qwen, SmolLM2): every role, system included, as its own turn.
    "chatml": (
        '{{- range $i, $_ := .Messages }}{{- $last := eq (len (slice $.Messages $i)) 1 }}'
        '<|im_start|>{{ .Role }}\n{{ .Content }}'
        '{{ if not (and $last (eq .Role "assistant")) }}<|im_end|>\n{{ end }}'
        '{{- if and $last (ne .Role "assistant") }}<|im_start|>assistant\n{{ end }}'
        '{{- end }}',
        ["<|im_end|>"]),
    # Llama 3: header tokens around the role, a blank line, the content, <|eot_id|>.
    "llama3": (
        '{{- range $i, $_ := .Messages }}{{- $last := eq (len (slice $.Messages $i)) 1 }}'
        '<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}'
        '{{ if not (and $last (eq .Role "assistant")) }}<|eot_id|>{{ end }}'
        '{{- if and $last (ne .Role "assistant") }}<|start_header_id|>assistant<|end_header_id|>\n\n{{ end }}'
        '{{- end }}',
        ["<|eot_id|>"]),
}
# How each family's system turn opens and closes, to find a default system prompt the template writes itself.
SYSTEM_TURN = {"chatml": ("<|im_start|>system\n", "<|im_end|>\n"),
               "llama3": ("<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>")}


def chat_family(chat_template: str | None) -> str | None:
    """Which of OLLAMA_TEMPLATES a Hugging Face chat template is, by its turn markers; None for another."""
    template = chat_template or ""
    for family, marker in (("gemma", "<start_of_turn>"), ("chatml", "<|im_start|>"), ("llama3", "<|start_header_id|>")):
        if marker in template:
            return family
    return None


def adds_bos(tokenizer) -> bool:
    """Whether tokenizing text puts BOS in front (llama.cpp and Ollama then add it themselves)."""
    sample = tokenizer("a").input_ids
    return tokenizer.bos_token_id is not None and sample[:1] == [tokenizer.bos_token_id]


def hf_prompt(tokenizer, messages: list, add_bos: bool) -> str:
    """The prompt text the adapter's own chat template writes (as training and v1_000_infer.py do), without the
    BOS that the runtime adds by itself when the file says so."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if add_bos and tokenizer.bos_token and text.startswith(tokenizer.bos_token):
        text = text[len(tokenizer.bos_token):]
    return text


def template_default_system(tokenizer, family: str, add_bos: bool) -> str | None:
    """The system prompt a chat template writes when the conversation has none (SmolLM2's, Qwen2.5's), else None."""
    if family not in SYSTEM_TURN:
        return None
    opening, closing = SYSTEM_TURN[family]
    text = hf_prompt(tokenizer, [{"role": "user", "content": "x"}], add_bos)
    if not text.startswith(opening) or closing not in text[len(opening):]:
        return None
    return text[len(opening):text.index(closing, len(opening))]


def ollama_messages(messages: list, system: str | None) -> tuple[str, list]:
    """(.System, .Messages) as Ollama hands them to the template: SYSTEM first when the conversation starts with no
    system message, consecutive messages of one role joined with a blank line."""
    if system and (not messages or messages[0]["role"] != "system"):
        messages = [{"role": "system", "content": system}] + list(messages)
    collated = []
    for message in messages:
        if collated and collated[-1]["Role"] == message["role"]:
            collated[-1]["Content"] += "\n\n" + message["content"]
        else:
            collated.append({"Role": message["role"], "Content": message["content"]})
    return "\n\n".join(m["Content"] for m in collated if m["Role"] == "system"), collated


def ollama_prompt(template: str, messages: list, system: str | None = None) -> str:
    """The prompt Ollama writes for `messages` with this TEMPLATE and SYSTEM (see render_go_template)."""
    joined_system, collated = ollama_messages(messages, system)
    return render_go_template(template, {"System": joined_system, "Messages": collated, "Tools": None, "Response": ""})


def sample_conversations(system: str | None) -> list[list]:
    system = system or "You extract data."
    return [
        [{"role": "user", "content": "東京都渋谷区の会社員、山田太郎さん(35)が逮捕された。"}],
        [{"role": "system", "content": system}, {"role": "user", "content": "日経平均株価は続落した。"}],
        [{"role": "system", "content": system}, {"role": "user", "content": "大阪市の田中花子さんが受賞した。"},
         {"role": "assistant", "content": '{"persons": [{"name": "田中花子", "address": "大阪市"}]}'},
         {"role": "user", "content": "鈴木一郎選手が本塁打を放った。"}],
    ]


@dataclass
class Modelfile:
    text: str
    family: str | None  # the chat format of OLLAMA_TEMPLATES used, None when the template is not one of them
    system: str | None  # what SYSTEM says
    stop: list
    mismatches: list  # sample conversations the TEMPLATE does not write as the chat template does


def modelfile_text(gguf_name: str, tokenizer, system_prompt: str | None = None,
                   add_bos: bool | None = None) -> Modelfile:
    """A Modelfile for `ollama create NAME -f FILE` next to `gguf_name`: FROM the file, the adapter's chat format
    as TEMPLATE, its end-of-turn token as stop, `system_prompt` (else the template's own default) as SYSTEM,
    greedy decoding. `mismatches` lists the sample conversations whose prompt the TEMPLATE would not write
    exactly as the adapter's chat template does (none for the formats of OLLAMA_TEMPLATES)."""
    add_bos = adds_bos(tokenizer) if add_bos is None else add_bos
    family = chat_family(tokenizer.chat_template)
    system = system_prompt or (template_default_system(tokenizer, family, add_bos) if family else None)
    if system and '"""' in system:
        raise KitError('the system prompt contains """, which a Modelfile cannot quote; pass another --system_prompt')
    lines = [f"# Ollama model of {gguf_name}, written by src/v1_000_export_gguf.py; "
             "use: ollama create NAME -f THIS_FILE",
             f"FROM ./{gguf_name}"]
    mismatches = []
    if family:
        template, stop = OLLAMA_TEMPLATES[family]
        bos = tokenizer.bos_token or ""
        if bos and hf_prompt(tokenizer, [{"role": "user", "content": "x"}], add_bos).startswith(bos):
            template = bos + template  # the chat template writes BOS and the runtime adds none
        for conversation in sample_conversations(system):
            _, sent = ollama_messages(conversation, system)  # what the template sees is what training formatted
            expected = hf_prompt(tokenizer, [{"role": m["Role"], "content": m["Content"]} for m in sent], add_bos)
            if ollama_prompt(template, conversation, system) != expected:
                mismatches.append(conversation)
        lines.append(f'TEMPLATE """{template}"""')
    else:
        stop = [tokenizer.eos_token] if tokenizer.eos_token else []
        lines.append("# a chat format the kit does not know (it knows Gemma, ChatML, Llama 3): "
                     "Ollama chooses a TEMPLATE "
                     "from the chat template inside the file")
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines += [f'PARAMETER stop "{token}"' for token in stop]
    lines.append("PARAMETER temperature 0")
    return Modelfile("\n".join(lines) + "\n", family, system, stop, mismatches)


# ---- a Go text/template renderer, for the subset the templates above use -----------------------------------
#
# Text, {{ actions }} with the {{- and -}} trim markers, `range $i, $x := PIPE`, `if / else if / else / end`,
# `$v := PIPE` and `$v = PIPE`, fields (.A.B, $.A, $v.A, (PIPE).A), string and integer literals, and the
# builtins eq, ne, not, and, or, len, index, slice, with Go's truth (false, 0, "", nil and empty lists are false).

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


def render_go_template(template: str, data: dict) -> str:
    tokens = []  # ("text", str) and ("action", str), alternating
    position, trim_next = 0, False
    for match in _ACTION.finditer(template):
        text = template[position:match.start()]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if match.group(1):
            text = text.rstrip(" \t\r\n")
        tokens += [("text", text), ("action", match.group(2).strip())]
        trim_next, position = bool(match.group(3)), match.end()
    rest = template[position:]
    tokens.append(("text", rest.lstrip(" \t\r\n") if trim_next else rest))
    tree, end = _parse_block(tokens, 0, ())
    if end != len(tokens):
        raise ValueError(f"unexpected {{{{{tokens[end][1]}}}}}")
    out = []
    _execute(tree, data, [{"$": data}], out)
    return "".join(out)


def _parse_block(tokens: list, index: int, stops: tuple):
    """Nodes up to one of `stops` (`end`, `else`, ...); returns (nodes, index of the stopping action)."""
    nodes = []
    while index < len(tokens):
        kind, value = tokens[index]
        if kind == "text":
            if value:
                nodes.append(("text", value))
            index += 1
            continue
        word = value.split(None, 1)[0] if value else ""
        if word in ("end", "else") and word in stops:
            return nodes, index
        if word == "if":
            branches, index = _parse_if(tokens, index, value[2:].strip())
            nodes.append(("if", branches))
        elif word == "range":
            header = value[len("range"):].strip()
            names, pipeline = [], header
            declaration = re.match(r"^(\$\w*)\s*(?:,\s*(\$\w*)\s*)?:=\s*(.*)$", header, re.S)
            if declaration:
                names = [name for name in declaration.group(1, 2) if name]
                pipeline = declaration.group(3)
            body, index = _parse_block(tokens, index + 1, ("end",))
            nodes.append(("range", names, _parse_pipeline(pipeline), body))
            index += 1
        else:
            assignment = re.match(r"^(\$\w+)\s*(:?=)\s*(.*)$", value, re.S)
            if assignment:
                nodes.append(("set", assignment.group(1), assignment.group(2) == ":=",
                              _parse_pipeline(assignment.group(3))))
            else:
                nodes.append(("output", _parse_pipeline(value)))
            index += 1
    if stops:
        raise ValueError("missing {{ end }}")
    return nodes, index


def _parse_if(tokens: list, index: int, condition: str):
    branches = []
    while True:
        body, index = _parse_block(tokens, index + 1, ("end", "else"))
        branches.append((_parse_pipeline(condition) if condition is not None else None, body))
        value = tokens[index][1]
        if value == "end":
            return branches, index + 1
        rest = value[len("else"):].strip()
        if rest.startswith("if "):
            condition = rest[3:].strip()
        elif not rest:
            condition = None
        else:
            raise ValueError(f"unsupported {{{{{value}}}}}")


_TERM = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+)|(?P<open>\()|(?P<close>\))'
                   r'|(?P<field>(?:\$\w*)?(?:\.\w+)+|\$\w*|\.)|(?P<word>[A-Za-z_]\w*))')


def _parse_pipeline(text: str):
    terms, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TERM.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"cannot read {text[position:]!r} in {{{{ {text} }}}}")
        terms.append(match)
        position = match.end()
    expression, used = _parse_command(terms, 0)
    if used != len(terms):
        raise ValueError(f"unsupported pipeline {{{{ {text} }}}}")
    return expression


def _parse_operand(terms: list, index: int):
    match = terms[index]
    if match.group("string"):
        import ast

        return ("literal", ast.literal_eval(match.group("string"))), index + 1
    if match.group("number"):
        return ("literal", int(match.group("number"))), index + 1
    if match.group("field"):
        return ("field", match.group("field")), index + 1
    if match.group("open"):
        inner, index = _parse_command(terms, index + 1)
        if index >= len(terms) or not terms[index].group("close"):
            raise ValueError("missing )")
        index += 1
        if index < len(terms) and terms[index].group("field") and terms[index].group("field").startswith("."):
            chain = terms[index].group("field")
            return ("chain", inner, chain), index + 1
        return inner, index
    if match.group("word") in ("true", "false"):
        return ("literal", match.group("word") == "true"), index + 1
    raise ValueError(f"unexpected {match.group(0).strip()!r}")


def _parse_command(terms: list, index: int):
    match = terms[index]
    if match.group("word") and match.group("word") not in ("true", "false"):
        name, index, args = match.group("word"), index + 1, []
        while index < len(terms) and not terms[index].group("close"):
            argument, index = _parse_operand(terms, index)
            args.append(argument)
        return ("call", name, args), index
    return _parse_operand(terms, index)


def _truth(value) -> bool:
    return not (value is None or value is False or value == 0 and not isinstance(value, bool) or value == "" or
                (isinstance(value, (list, tuple, dict)) and not value))


def _lookup(scopes: list, name: str):
    for scope in reversed(scopes):
        if name in scope:
            return scope[name]
    raise ValueError(f"undefined variable {name}")


def _fields(value, chain: str):
    for name in [part for part in chain.split(".") if part]:
        value = value.get(name) if isinstance(value, dict) else getattr(value, name)
    return value


def _evaluate(expression, dot, scopes: list):
    kind = expression[0]
    if kind == "literal":
        return expression[1]
    if kind == "field":
        text = expression[1]
        if text == ".":
            return dot
        if text.startswith("$"):
            name, _, chain = text.partition(".")
            return _fields(_lookup(scopes, name), chain)
        return _fields(dot, text)
    if kind == "chain":
        return _fields(_evaluate(expression[1], dot, scopes), expression[2])
    name, args = expression[1], expression[2]
    value = lambda argument: _evaluate(argument, dot, scopes)
    if name in ("and", "or"):
        result = None
        for argument in args:  # short-circuit, returning the deciding value, as Go does
            result = value(argument)
            if _truth(result) != (name == "and"):
                return result
        return result
    values = [value(argument) for argument in args]
    if name == "not":
        return not _truth(values[0])
    if name == "eq":
        return any(values[0] == other for other in values[1:])
    if name == "ne":
        return values[0] != values[1]
    if name == "len":
        return len(values[0])
    if name == "index":
        result = values[0]
        for key in values[1:]:
            result = result[key]
        return result
    if name == "slice":
        start, stop = (values[1:] + [None, None])[:2]  # slice x 1 is x[1:], slice x 1 2 is x[1:2]
        return values[0][start:stop]
    raise ValueError(f"function {name} is not in this renderer")


def _execute(nodes: list, dot, scopes: list, out: list) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "output":
            value = _evaluate(node[1], dot, scopes)
            out.append("" if value is None else str(value).lower() if isinstance(value, bool) else str(value))
        elif kind == "set":
            _, name, declare, expression = node
            value = _evaluate(expression, dot, scopes)
            if declare:
                scopes[-1][name] = value
            else:
                next(scope for scope in reversed(scopes) if name in scope)[name] = value
        elif kind == "if":
            for condition, body in node[1]:
                if condition is None or _truth(_evaluate(condition, dot, scopes)):
                    scopes.append({})
                    _execute(body, dot, scopes, out)
                    scopes.pop()
                    break
        elif kind == "range":
            _, names, expression, body = node
            items = _evaluate(expression, dot, scopes) or []
            pairs = items.items() if isinstance(items, dict) else enumerate(items)
            for key, item in pairs:
                scope = {}
                if len(names) == 2:
                    scope[names[0]], scope[names[1]] = key, item
                elif len(names) == 1:
                    scope[names[0]] = item
                scopes.append(scope)
                _execute(body, item, scopes, out)
                scopes.pop()
