"""Writing a (merged) transformers model as one GGUF file for llama.cpp-based tools (llama-cli, llama-server, Ollama).

Built on the `gguf` package, llama.cpp's own Python writer: its `GGUFWriter`, its key names, its map from
Hugging Face tensor names to GGUF names and its Q8_0 quantizer. What llama.cpp's `convert_hf_to_gguf.py` does
differently from a plain copy is repeated here for the two supported architectures, each where it happens:

- Gemma 3: RMSNorm weights are stored as `1 + w` (Gemma computes `x * (1 + w)`, llama.cpp `x * w`); the
  sliding-window layer pattern and its rope base are written per layer; the output head is the tied embedding.
- Llama: the rows of the q and k projections are reordered from the halves layout of transformers' rotary
  embedding to the interleaved pairs llama.cpp rotates.

The tokenizer goes in as llama.cpp metadata: a sentencepiece-style vocabulary (Gemma, Llama 1/2, TinyLlama) as
tokens, scores and token types; a byte-level BPE one (Llama 3, GPT-2 style) as tokens and merges with its
pre-tokenizer's name. The chat template goes in as `tokenizer.chat_template`.
"""

import json
import os
import re
from pathlib import Path

from .errors import KitError

GGUF_TYPES = ("bf16", "f16", "q8_0")
SUPPORTED_ARCHITECTURES = ("Gemma3ForCausalLM", "LlamaForCausalLM")

# The regular expression Llama 3's tokenizer splits text with; llama.cpp knows it as pre-tokenizer "llama-bpe".
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                r"|\s+(?!\S)|\s+")
SPM_SPACE = "\u2581"


def model_architecture(model) -> str:
    """The transformers class name of the model; a KitError for one this module cannot write."""
    names = list(getattr(model.config, "architectures", None) or []) or [type(model).__name__]
    architecture = names[0]
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise KitError(f"GGUF export of {architecture} is not supported yet (supported: {', '.join(SUPPORTED_ARCHITECTURES)})")
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
    gguf_arch = gguf.MODEL_ARCH.GEMMA3 if architecture == "Gemma3ForCausalLM" else gguf.MODEL_ARCH.LLAMA
    config = model.config
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(f".{out_path.name}.incomplete-{os.getpid()}")
    writer = gguf.GGUFWriter(str(temporary), gguf.MODEL_ARCH_NAMES[gguf_arch])
    try:
        writer.add_name(name or out_path.stem)
        if gguf_arch == gguf.MODEL_ARCH.GEMMA3:
            add_gemma3_parameters(writer, config)
        else:
            add_llama_parameters(writer, config)
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


# ---- hyperparameters --------------------------------------------------------------------------------------


def rope(config, layer_type: str | None = None) -> dict:
    """The rope parameters of one layer type (transformers 5 keeps them per layer type for Gemma 3)."""
    parameters = dict(getattr(config, "rope_parameters", None) or {})
    if layer_type and layer_type in parameters:
        parameters = dict(parameters[layer_type])
    if "rope_theta" not in parameters:  # older transformers: plain attributes
        parameters["rope_theta"] = config.rope_local_base_freq if layer_type == "sliding_attention" else config.rope_theta
    parameters.setdefault("rope_type", "default")
    return parameters


def add_rope_scaling(writer, parameters: dict, architecture: str) -> None:
    import gguf

    kind = parameters.get("rope_type", "default")
    if kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(parameters["factor"])
    elif kind != "default":
        raise KitError(f"GGUF export of {architecture} with rope scaling '{kind}' is not supported yet (default and linear are)")


def add_gemma3_parameters(writer, config) -> None:
    layer_types = list(config.layer_types)
    # llama.cpp does not read these from the file: it hard-codes Gemma 3's choices. Refuse a model that differs
    # rather than write a file that llama.cpp would run as another model.
    expected_scalar = config.hidden_size / config.num_attention_heads if config.num_hidden_layers == 62 else config.head_dim
    if config.query_pre_attn_scalar != expected_scalar:
        raise KitError(f"GGUF export of Gemma3ForCausalLM: query_pre_attn_scalar is {config.query_pre_attn_scalar}, but "
                       f"llama.cpp scales attention by 1/sqrt({expected_scalar:g}) for this model")
    if getattr(config, "attn_logit_softcapping", None) is not None:
        raise KitError("GGUF export of Gemma3ForCausalLM: attention logit soft-capping is not supported by llama.cpp's Gemma 3")
    if config.hidden_activation != "gelu_pytorch_tanh":
        raise KitError(f"GGUF export of Gemma3ForCausalLM: activation {config.hidden_activation} (llama.cpp uses gelu_pytorch_tanh)")
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
        log(f"[gguf] {len(fallbacks)} tensors kept in f16 (row length not a multiple of 32): {', '.join(fallbacks[:3])}")


# ---- tokenizer --------------------------------------------------------------------------------------------


def add_tokenizer(writer, tokenizer, embedding_rows: int, gemma: bool) -> None:
    """Vocabulary, special tokens, BOS/EOS behaviour and chat template, as llama.cpp reads them."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec["model"]["type"] != "BPE":
        raise KitError(f"GGUF export: tokenizer model {spec['model']['type']} is not supported yet (BPE is)")
    by_id = {index: token for token, index in tokenizer.get_vocab().items()}
    if max(by_id) >= embedding_rows:
        raise KitError(f"GGUF export: the tokenizer has token id {max(by_id)}, beyond the model's {embedding_rows} embeddings")
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
    end_of_turn = tokenizer.get_vocab().get("<end_of_turn>")
    if end_of_turn is not None:
        writer.add_eot_token_id(end_of_turn)  # Gemma's turn end: llama.cpp stops there too
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
    raise KitError("GGUF export: this byte-level tokenizer splits text in a way llama.cpp does not know by name "
                   "(supported: GPT-2's and Llama 3's)")
