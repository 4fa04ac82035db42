"""torch.compile of the decoder layers, tried once on real micro-batches and dropped when it fails.

Why: on a CPU most of a LoRA step that is not a matrix product is element-wise work (RMSNorm in fp32, casts
between bf16 and the fp32 LoRA weights, rotary embeddings, LoRA scaling, GELU), each op a pass over memory;
inductor fuses them. Measured on the default run (2-core Xeon, bf16): about 1.2x the tokens/s of eager mode,
for half a minute to a minute of compiling at the start. So `--compile auto` compiles only runs long enough to
gain from it.

Each decoder layer is compiled on its own (`nn.Module.compile`): the layers share one code object, so inductor
compiles one graph per layer kind and reuses it, and the embedding, the mask building and the chunked loss head
stay in eager mode. Shapes are compiled as dynamic from the start, since packed rows vary in length.
"""

import contextlib

import torch

from .errors import KitError

MIN_STEPS_FOR_AUTO = 60  # below this the minute of compiling costs more than it saves
MIN_PARAMETERS_FOR_AUTO = 50_000_000  # tiny models (tests) gain nothing worth the compile time


def should_compile(choice: str, *, planned_steps: int, parameters: int, qlora: bool, processes: int,
                   bf16: bool = True, log=print) -> bool:
    """--compile true | false | auto (auto: long single-process bf16 runs of a real-sized model, not QLoRA).

    fp32 is left out of auto: on the 2-core Xeon the compiled fp32 steps were no faster than eager (0.89x, see
    docs/speed.md), so the minute of compiling would be lost.
    """
    if choice in ("true", "false"):
        return choice == "true"
    reasons = []
    if not bf16:
        reasons.append("fp32")
    if planned_steps < MIN_STEPS_FOR_AUTO:
        reasons.append(f"{planned_steps} steps")
    if parameters < MIN_PARAMETERS_FOR_AUTO:
        reasons.append("a small model")
    if qlora:
        reasons.append("4-bit layers")
    if processes > 1:
        reasons.append("several processes")
    if reasons:
        return False
    log("[compile] compiling the decoder layers with torch.compile (about a minute, then faster steps; "
        "--compile false to skip)")
    return True


def decoder_layers(model):
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    return list(causal_lm.get_decoder().layers)


def compile_decoder_layers(model) -> None:
    for layer in decoder_layers(model):
        layer.compile()


def uncompile_decoder_layers(model) -> None:
    for layer in decoder_layers(model):
        layer._compiled_call_impl = None  # what nn.Module.compile set; eager forward again
    torch._dynamo.reset()


@contextlib.contextmanager
def eager(model):
    """Run the decoder layers uncompiled inside the block (validation, generation), compiled again after it.

    The compiled graphs are for training steps; without gradients or with a KV cache, dynamo would compile new
    graphs, each taking seconds, for work that is a small share of the run. A no-op on a model never compiled.
    """
    layers = [layer for layer in decoder_layers(model) if getattr(layer, "_compiled_call_impl", None) is not None]
    saved = [layer._compiled_call_impl for layer in layers]
    for layer in layers:
        layer._compiled_call_impl = None
    try:
        yield model
    finally:
        for layer, compiled in zip(layers, saved):
            layer._compiled_call_impl = compiled


def compile_with_fallback(model, warmup_batches, run_batch, log=print) -> bool:
    """Compile the decoder layers and run `run_batch(batch)` (forward and backward) on `warmup_batches`, so that
    compiling happens here rather than inside the timed training steps; on failure, go back to eager mode.

    The warm-up leaves no trace: gradients are cleared and the random state is put back, so the training that
    follows is the one an uncompiled run would do (to rounding: fused kernels round differently).
    Returns whether the model stays compiled.
    """
    rng_state = torch.get_rng_state()
    compile_decoder_layers(model)
    try:
        for batch in warmup_batches:
            run_batch(batch)
    except (KeyboardInterrupt, KitError):
        raise
    except Exception as error:  # inductor needs a C++ compiler (CPU) or Triton (GPU); any failure means eager
        if "out of memory" in str(error).lower():
            raise
        uncompile_decoder_layers(model)
        log(f"[compile] torch.compile failed ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:160] if str(error) else ''}); "
            "training without it")
        return False
    finally:
        model.zero_grad(set_to_none=True)
        torch.set_rng_state(rng_state)
    return True
