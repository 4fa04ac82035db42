"""torch.compile of the decoder layers: same losses as eager, and a failed compile falls back to eager."""

import pytest
import torch

from conftest import build_tiny_model, build_tokenizer
from ftkit import compiling
from ftkit.compiling import compile_with_fallback, should_compile


def test_auto_compiles_only_long_single_process_runs_of_real_sized_models():
    big = dict(planned_steps=300, parameters=270_000_000, qlora=False, processes=1, log=lambda _: None)
    assert should_compile("auto", **big)
    assert not should_compile("auto", **{**big, "planned_steps": 10})
    assert not should_compile("auto", **{**big, "parameters": 5_000_000})
    assert not should_compile("auto", **{**big, "qlora": True})
    assert not should_compile("auto", **{**big, "processes": 2})
    assert not should_compile("auto", **{**big, "bf16": False})  # compiled fp32 steps were measured no faster
    assert should_compile("true", **{**big, "planned_steps": 1})
    assert not should_compile("false", **big)


def tiny_batch(tokenizer, length):
    torch.manual_seed(length)
    return {"input_ids": torch.randint(4, len(tokenizer), (1, length)),
            "position_ids": torch.cat([torch.arange(length // 2), torch.arange(length - length // 2)])[None]}


def loss_of(model, batch):
    return model(**batch, use_cache=False).logits.float().logsumexp(-1).mean()


def test_a_failing_compile_goes_back_to_eager(monkeypatch):
    tokenizer = build_tokenizer()
    model = build_tiny_model("llama", tokenizer)
    batch = tiny_batch(tokenizer, 24)
    eager = loss_of(model, batch).item()
    state = torch.get_rng_state()
    calls = []

    def broken(rows):
        calls.append(rows)
        raise RuntimeError("inductor: no working C++ compiler found")

    messages = []
    assert not compile_with_fallback(model, [batch], broken, log=messages.append)
    assert "training without it" in messages[0] and "no working C++ compiler" in messages[0]
    assert all(layer._compiled_call_impl is None for layer in compiling.decoder_layers(model))
    assert torch.equal(torch.get_rng_state(), state)
    assert loss_of(model, batch).item() == eager


def test_compiled_layers_give_the_eager_loss_and_gradients():
    tokenizer = build_tokenizer()
    model = build_tiny_model("gemma3", tokenizer)
    batches = [tiny_batch(tokenizer, 24), tiny_batch(tokenizer, 40)]
    expected = []
    for batch in batches:
        model.zero_grad()
        loss = loss_of(model, batch)
        loss.backward()
        expected.append((loss.item(), model.model.layers[0].mlp.up_proj.weight.grad.clone()))
    assert compile_with_fallback(model, batches, lambda batch: loss_of(model, batch).backward())
    assert model.model.layers[0].mlp.up_proj.weight.grad is None  # the warm-up leaves no gradient behind
    for batch, (loss_value, grad) in zip(batches, expected):
        model.zero_grad()
        loss = loss_of(model, batch)
        loss.backward()
        # Fused kernels sum in another order: equal to float32 rounding, relative to the values' size.
        assert loss.item() == pytest.approx(loss_value, rel=1e-5)
        torch.testing.assert_close(model.model.layers[0].mlp.up_proj.weight.grad, grad, rtol=1e-4,
                                   atol=1e-5 * grad.abs().max().item())
    with compiling.eager(model):  # validation and generation run uncompiled, training compiled again after
        assert all(layer._compiled_call_impl is None for layer in compiling.decoder_layers(model))
    assert all(layer._compiled_call_impl is not None for layer in compiling.decoder_layers(model))
    compiling.uncompile_decoder_layers(model)
