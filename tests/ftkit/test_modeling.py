"""Tests of ftkit.modeling: the precision choice on a CPU (from the bf16 units torch reports, a warmed-up timing only
where it cannot say), gradient checkpointing only when memory is short, and all-linear LoRA targets for an
architecture without a list."""

import torch
from conftest import quiet

from ftkit.modeling import auto_lora_targets, cpu_bf16_is_fast, pick_dtype, precision_name


def never_timed(dtype):
    raise AssertionError("the CPU's capabilities decide; no timing should run")


def test_amx_or_avx512_bf16_chooses_bf16_without_timing():
    assert cpu_bf16_is_fast({"amx": True, "avx512_bf16": True}, timer=never_timed)[0]
    assert cpu_bf16_is_fast({"amx": False, "avx512_bf16": True}, timer=never_timed)[0]


def test_a_cpu_without_bf16_units_chooses_fp32_even_if_a_timing_would_say_otherwise():
    fast, reason = cpu_bf16_is_fast({"amx": False, "avx512_bf16": False}, timer=never_timed)
    assert not fast and "no bf16 matrix unit" in reason


def test_unknown_capabilities_are_decided_by_the_timer():
    seconds = {torch.bfloat16: 1.0, torch.float32: 3.0}
    assert cpu_bf16_is_fast({}, timer=seconds.get)[0]
    seconds = {torch.bfloat16: 2.9, torch.float32: 3.0}  # not clearly faster: fp32
    assert not cpu_bf16_is_fast({}, timer=seconds.get)[0]


def test_explicit_precision_wins_and_names_round_trip():
    assert pick_dtype("cpu", "fp32") == torch.float32
    assert pick_dtype("cpu", "bf16") == torch.bfloat16
    assert precision_name(pick_dtype("cpu", "bf16")) == "bf16"
    assert precision_name(pick_dtype("cpu", "fp32")) == "fp32"


def test_auto_gives_the_same_answer_every_time_in_one_process():
    answers = {pick_dtype("cpu", "auto", log=lambda _: None) for _ in range(5)}
    assert len(answers) == 1


def test_gradient_checkpointing_is_switched_on_only_when_memory_is_short(tiny_model_dirs, monkeypatch):
    from transformers import AutoConfig

    import ftkit.modeling as modeling

    config = AutoConfig.from_pretrained(tiny_model_dirs["gemma3"])  # 2 layers, hidden 64, MLP 128
    per_token = 2 * (10 * 64 + 4 * 128) * 4
    monkeypatch.setattr(modeling, "free_memory_bytes", lambda device: 2 * 2 * per_token * 1000)
    assert not modeling.needs_gradient_checkpointing(config, 1000, "cpu", torch.float32, log=quiet)
    assert modeling.needs_gradient_checkpointing(config, 1001, "cpu", torch.float32, log=quiet)


def test_unknown_architecture_falls_back_to_all_linear():
    class Config:
        model_type = "some_new_model"

    messages = []
    assert auto_lora_targets(Config(), log=messages.append) == ("all-linear", "")
    assert "no target list for model type 'some_new_model'" in messages[0]
