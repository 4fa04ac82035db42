"""Device and precision choice, loading the base model (plain or 4-bit) and attaching LoRA."""

import re
import time
from pathlib import Path

from .errors import KitError
from .formatting import ensure_chat_template
from .text_tables import comma_list


def pick_device(requested: str = "auto", log=print) -> str:
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        log("[device] no GPU found: running on the CPU (slower, but everything works)")
        return "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise KitError("--device cuda was asked for, but no CUDA GPU is available")
    return requested


def pick_dtype(device: str, precision: str = "auto", log=print):
    """bf16 where the hardware runs it fast, else fp32. Never fp16: Gemma's activations overflow in fp16."""
    import torch

    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    fast, reason = cpu_bf16_is_fast()
    if fast:
        log(f"[device] this CPU has {reason}: training in bf16 (--precision fp32 forces fp32)")
        return torch.bfloat16
    log(f"[device] this CPU has {reason}: training in fp32 (--precision bf16 forces bf16)")
    return torch.float32


def precision_name(dtype) -> str:
    """'bf16' or 'fp32': what --precision takes, to record the precision a run actually used."""
    import torch

    return "bf16" if dtype == torch.bfloat16 else "fp32"


def cpu_bf16_capabilities() -> dict:
    """What torch reports about this CPU's bf16 matrix units: {'amx': bool, 'avx512_bf16': bool}, or {} when unknown.

    These are the instructions oneDNN uses for bf16 matrix products on x86 (AMX tiles on Xeon Sapphire Rapids and
    later, AVX512-BF16 on Cooper Lake and AMD Zen 4 and later). torch exposes them as private helpers; where they
    are missing (another architecture, another torch) the answer is unknown and the timing decides.
    """
    import torch

    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    if amx is None or avx512_bf16 is None:
        return {}
    return {"amx": bool(amx()), "avx512_bf16": bool(avx512_bf16())}


def cpu_bf16_is_fast(capabilities=None, timer=None) -> tuple[bool, str]:
    """Whether bf16 training is faster than fp32 on this CPU, and why (for the log line).

    Decided from the CPU's bf16 units when torch reports them: with AMX or AVX512-BF16, oneDNN's bf16 products
    ran 3.3x the fp32 rate (2-core Xeon with AMX); without them PyTorch falls back to slow bf16 kernels, and a
    bf16 backward pass was seen 100x slower than fp32 (2-core AMD EPYC without AVX512-BF16). Only where torch
    cannot say does a timing decide (`timer(dtype)` -> seconds of a warmed-up training-sized product).
    A timing alone is unreliable: oneDNN builds a kernel on a shape's first use, so an unwarmed timing flips.
    """
    capabilities = cpu_bf16_capabilities() if capabilities is None else capabilities
    if capabilities.get("amx"):
        return True, "AMX bf16 matrix units"
    if capabilities.get("avx512_bf16"):
        return True, "AVX512-BF16 instructions"
    if capabilities:
        return False, "no bf16 matrix unit (neither AMX nor AVX512-BF16)"
    import torch

    timer = timer or warmed_matmul_seconds
    bf16, fp32 = timer(torch.bfloat16), timer(torch.float32)
    if bf16 < 0.8 * fp32:
        return True, f"bf16 matrix products {fp32 / bf16:.1f}x as fast as fp32 (timed)"
    return False, f"bf16 matrix products no faster than fp32 ({fp32 / bf16:.2f}x, timed)"


def warmed_matmul_seconds(dtype, size: int = 512, repeats: int = 5) -> float:
    """Seconds for the three products of a linear layer's training step (forward, input and weight gradients),
    best of `repeats`, after one warm-up call of each shape."""
    import torch

    weight = torch.randn(2 * size, size, dtype=dtype)
    inputs = torch.randn(size, size, dtype=dtype)
    grads = torch.randn(size, 2 * size, dtype=dtype)

    def once() -> float:
        start = time.perf_counter()
        inputs @ weight.t()
        grads @ weight
        grads.t() @ inputs
        return time.perf_counter() - start

    once()  # warm-up: oneDNN builds its kernels for these shapes here
    return min(once() for _ in range(repeats))


def cpu_bf16_is_faster() -> bool:
    """Kept for scripts written against earlier versions: cpu_bf16_is_fast() without the reason."""
    return cpu_bf16_is_fast()[0]


def load_tokenizer(model_path: str | Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def quantization_config(dtype):
    """4-bit NF4 with double quantization, the QLoRA recipe (Dettmers et al., 2023)."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
    )


def load_base_model(model_path: str | Path, device: str, dtype, qlora: bool = False):
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = dict(dtype=dtype, attn_implementation=attention_implementation(device, dtype))
    if qlora:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise KitError("--qlora needs bitsandbytes: pip install bitsandbytes") from None
        kwargs["quantization_config"] = quantization_config(dtype)
        kwargs["device_map"] = {"": torch.device(device)}
    model = AutoModelForCausalLM.from_pretrained(str(model_path), **kwargs)
    if not qlora:
        model.to(device)
    return model


def attention_implementation(device: str, dtype) -> str:
    """FlashAttention-2 on a GPU where the flash-attn package is installed, else PyTorch's SDPA.

    Both keep packed samples apart: with FlashAttention, transformers turns the restarting position ids into
    variable-length sequences (no padding, no mask); with SDPA it builds the block-diagonal causal mask.
    (Running SDPA per packed sample instead, without a mask, was measured no faster on a CPU with 512-token rows,
    and it breaks torch.compile's graphs.)
    """
    import importlib.util

    import torch

    if (device.startswith("cuda") and dtype in (torch.bfloat16, torch.float16)
            and importlib.util.find_spec("flash_attn")):
        return "flash_attention_2"
    return "sdpa"


def needs_gradient_checkpointing(config, micro_batch_tokens: int, device: str, dtype, log=print) -> bool:
    """Whether the activations kept for the backward pass would crowd the free memory (an estimate).

    Recomputing activations costs about a third more time, so it is switched on only where memory needs it.
    Per token and layer a LoRA step keeps roughly 10 hidden-size and 4 MLP-size vectors (norm, attention and
    MLP inputs, LoRA inputs); twice that is counted as a margin, and it must fit in half the free memory.
    """
    import torch

    bytes_per_value = torch.finfo(dtype).bits // 8
    per_token = config.num_hidden_layers * (10 * config.hidden_size + 4 * config.intermediate_size) * bytes_per_value
    needed = 2 * per_token * micro_batch_tokens
    free = free_memory_bytes(device)
    if needed > free / 2:
        log(f"[memory] activations of {micro_batch_tokens} tokens need about {needed / 2**30:.1f} GiB of "
            f"{free / 2**30:.1f} GiB free: gradient checkpointing on (--gradient_checkpointing false to refuse)")
        return True
    return False


def free_memory_bytes(device: str) -> int:
    import torch

    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info()
        return free
    try:
        with open("/proc/meminfo") as meminfo:  # Linux
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 40  # unknown: assume plenty, the out-of-memory recovery is the safety net


def attach_lora(model, r: int, alpha: int, dropout: float, target_modules: str, qlora: bool,
                gradient_checkpointing: bool,
                target_parameters: str = "", use_dora: bool = False, use_rslora: bool = False, init: str = "default"):
    """Wrap the model with fresh LoRA adapters; only they are trained.

    `target_parameters` names parameters rather than modules (peft's `target_parameters`), for layers that are
    not nn.Linear, such as the fused expert weights of Mixture-of-Experts models in transformers 5.
    The variants are peft's own: `use_dora` (DoRA: a trained magnitude per output feature beside the LoRA
    direction), `use_rslora` (scale alpha / sqrt(r) instead of alpha / r) and `init` (see LORA_INITS). An init
    that moves part of the base weights into the adapter (PiSSA, OLoRA) makes the model save its adapter
    converted to plain LoRA, which loads onto the unchanged base model (see `save_as_plain_lora`).
    """
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if qlora:
        # Casts norms to fp32 and makes the inputs require grad, as the QLoRA recipe does.
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if target_modules.strip() == "auto":
        target_modules, auto_parameters = auto_lora_targets(model.config)
        target_parameters = target_parameters or auto_parameters
    targets = parse_target_modules(target_modules)
    parameters = comma_list(target_parameters) or None
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
                        target_parameters=parameters, task_type="CAUSAL_LM", use_dora=use_dora,
                        use_rslora=use_rslora, init_lora_weights=lora_init_weights(init))
    model = get_peft_model(model, config)
    if init_changes_base_weights(init):
        save_as_plain_lora(model)
    return model


# --lora_init: how the LoRA weights start (peft's `init_lora_weights`). The inits peft has that need more than the
# model (EVA and CorDA: activations of training data; LoftQ: a quantization config) are not offered here.
LORA_INITS = {
    "default": "A random (Kaiming uniform), B zero: the adapter starts as a no-op (Hu et al., 2021)",
    "gaussian": "A Gaussian scaled by the rank, B zero",
    "orthogonal": "A and B orthogonal, the product zero at the start",
    "pissa": "PiSSA: A and B from the top singular vectors of each weight, which the base keeps the rest of "
             "(full SVD; pissa_niter_N for N iterations of a fast randomized SVD)",
    "olora": "OLoRA: A and B from a QR decomposition of each weight, which the base keeps the rest of",
}
PISSA_FAST = re.compile(r"pissa_niter_(\d+)")


def lora_init_weights(init: str):
    """--lora_init as peft's `init_lora_weights` (True for the default); KitError for a name peft is not given."""
    if init == "default":
        return True
    if init in LORA_INITS or (PISSA_FAST.fullmatch(init) and int(PISSA_FAST.fullmatch(init)[1]) >= 1):
        return init
    raise KitError(f"--lora_init is '{init}', expected one of: {', '.join(LORA_INITS)}, or pissa_niter_N "
                   "(N >= 1 iterations of a fast SVD)")


def init_changes_base_weights(init: str) -> bool:
    """PiSSA and OLoRA take their start out of the base weights (W = W_res + BA): the trained adapter is only
    right on the changed base, so it is saved converted (see `save_as_plain_lora`)."""
    return init == "olora" or init.startswith("pissa")


def save_as_plain_lora(model) -> None:
    """Make `model.save_pretrained` write the adapter as a plain LoRA adapter of twice the rank, which loads with
    `PeftModel.from_pretrained` onto the unchanged base model: peft's own conversion (its
    `path_initial_model_for_weight_conversion`), fed with the adapter's initial weights kept here in memory
    (a few MB) and written to a temporary folder only while saving. The trained model in memory stays as it is
    (changed base plus trained adapter), so evaluation in this process is unaffected.
    """
    import tempfile

    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    initial = {name: value.detach().to("cpu", copy=True).contiguous()
               for name, value in get_peft_model_state_dict(model).items()}
    save_pretrained = model.save_pretrained

    def save_converted(save_directory, **kwargs):
        if kwargs.get("path_initial_model_for_weight_conversion"):
            return save_pretrained(save_directory, **kwargs)
        with tempfile.TemporaryDirectory(prefix="ftkit-initial-adapter-") as scratch:
            initial_dir = Path(scratch) / "initial"
            initial_dir.mkdir()
            save_file(initial, str(initial_dir / "adapter_model.safetensors"))
            return save_pretrained(save_directory, path_initial_model_for_weight_conversion=str(initial_dir), **kwargs)

    model.save_pretrained = save_converted


ATTENTION_PROJECTIONS = "q_proj,k_proj,v_proj,o_proj"
MLP_PROJECTIONS = "gate_proj,up_proj,down_proj"
# model_type -> (target modules, target parameters) for `--lora_target_modules auto`: every linear projection of
# attention and MLP, never the output head or the embeddings (name them explicitly to adapt those). Mixture-of-
# Experts models in transformers 5 keep their experts as fused 3-D parameters, not nn.Linear modules, so peft
# reaches them through `target_parameters`; their router stays frozen, as in the usual MoE LoRA recipes.
LORA_TARGETS = {
    **{name: (f"{ATTENTION_PROJECTIONS},{MLP_PROJECTIONS}", "")
       for name in ("gemma", "gemma2", "gemma3", "gemma3_text", "llama", "mistral", "qwen2", "qwen3")},
    **{name: (f"{ATTENTION_PROJECTIONS},{MLP_PROJECTIONS}", "mlp.experts.gate_up_proj,mlp.experts.down_proj")
       for name in ("qwen3_moe", "qwen2_moe")},  # MLP names: the dense layers some MoE models keep
}


def auto_lora_targets(config, log=print) -> tuple[str, str]:
    """(target modules, target parameters) for this architecture; peft's 'all-linear' for one not listed."""
    model_type = getattr(config, "model_type", "")
    if model_type in LORA_TARGETS:
        return LORA_TARGETS[model_type]
    log(f"[lora] no target list for model type '{model_type}': adapting every linear layer but the output head "
        "(--lora_target_modules to choose)")
    return "all-linear", ""


def parse_target_modules(value: str):
    """'all-linear' (every linear layer but the output head, peft's own rule) or a comma-separated list."""
    if value.strip() == "all-linear":
        return "all-linear"
    names = comma_list(value)
    if not names:
        raise KitError("--lora_target_modules is empty; use 'all-linear' or names such as q_proj,v_proj")
    return names


def count_parameters(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def load_for_inference(model_path: str | Path, adapter_dir: str | Path | None, device: str = "cpu", dtype=None):
    """Base model plus (optionally) a PEFT adapter, in eval mode, and the tokenizer to use with them.

    The tokenizer comes from the adapter folder when it has one: it carries the chat template used in training.
    """
    import torch
    from peft import PeftModel

    dtype = dtype or torch.float32
    tokenizer_source = (adapter_dir if adapter_dir and (Path(adapter_dir) / "tokenizer_config.json").is_file()
                        else model_path)
    tokenizer = load_tokenizer(tokenizer_source)
    ensure_chat_template(tokenizer, log=lambda message: None)  # the base model alone gets the training format too
    model = load_base_model(model_path, device, dtype)
    if adapter_dir:
        model = PeftModel.from_pretrained(model, str(adapter_dir))
    model.eval()
    return model, tokenizer
