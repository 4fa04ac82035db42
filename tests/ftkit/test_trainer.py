"""Tests of ftkit.trainer: out-of-memory recovery, and the steps under a stand-in DeepSpeed engine."""

import contextlib

import pytest
import torch
from conftest import encoded_records, tiny_lora_model

from ftkit.distributed import Processes
from ftkit.errors import KitError
from ftkit.modeling import load_tokenizer
from ftkit.trainer import train


def train_briefly(model, micro_batches, tokenizer, **overrides):
    settings = dict(learning_rate=1e-2, warmup_ratio=0.0, gradient_accumulation=1, epochs=1, max_steps=-1,
                    max_grad_norm=1.0, weight_decay=0.0, pad_token_id=tokenizer.pad_token_id, device="cpu", seed=0)
    return train(model, micro_batches, **{**settings, **overrides})


def lora_weights(model):
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def test_out_of_memory_halves_the_micro_batch_and_gives_the_same_result(tiny_model_dirs, capsys):
    tokenizer = load_tokenizer(tiny_model_dirs["gemma3"])
    rows = [[item] for item in encoded_records(tokenizer)]
    micro_batches = [rows[:2], rows[2:]]  # two micro-batches of two rows

    reference_model = tiny_lora_model(tiny_model_dirs["gemma3"])
    reference = train_briefly(reference_model, micro_batches, tokenizer)

    model = tiny_lora_model(tiny_model_dirs["gemma3"])

    def out_of_memory_above_one_row(module, args, kwargs):
        if kwargs["input_ids"].shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    hook = model.get_base_model().model.register_forward_pre_hook(out_of_memory_above_one_row, with_kwargs=True)
    recovered = train_briefly(model, micro_batches, tokenizer)
    hook.remove()

    assert "[memory] out of memory at step 1: micro-batches halved" in capsys.readouterr().out
    assert recovered.micro_batch_split == 2 and reference.micro_batch_split == 1
    # Same effective batch, so the same gradients and the same trained adapter, up to rounding: halving the
    # micro-batch sums the same terms in another order, and other CPUs' kernels (AMX on Intel Xeon, say) round
    # differently, so float32 results agree to about 1e-7 relative, not bit for bit. A relative tolerance of 1e-5
    # holds on every machine and still catches a wrong gradient (a changed batch moves the loss by percents).
    assert [h["loss"] for h in recovered.history] == pytest.approx([h["loss"] for h in reference.history], rel=1e-5)
    for name, weight in lora_weights(reference_model).items():
        assert torch.allclose(lora_weights(model)[name], weight, rtol=1e-5, atol=1e-6), name


def test_out_of_memory_on_a_single_row_is_a_clear_error(tiny_model_dirs):
    tokenizer = load_tokenizer(tiny_model_dirs["gemma3"])
    model = tiny_lora_model(tiny_model_dirs["gemma3"])
    model.get_base_model().model.register_forward_pre_hook(
        lambda module, args: (_ for _ in ()).throw(torch.OutOfMemoryError("CUDA out of memory")))
    with pytest.raises(KitError, match=r"single row .*--max_seq_len.*CLAUDE_memory_error.md"):
        train_briefly(model, [[[item]] for item in encoded_records(tokenizer)], tokenizer)


class StandInDeepSpeedAccelerator:
    """Just what the trainer asks of accelerate under DeepSpeed; its 'engine' clips and steps at the boundary."""

    def __init__(self):
        from accelerate.utils import DistributedType

        self.distributed_type, self.process_index, self.num_processes = DistributedType.DEEPSPEED, 0, 1
        self.device = torch.device("cpu")
        self.sync_gradients, self.boundaries = True, []
        self.state = type("State", (), {"backend": "nccl", "deepspeed_plugin": type("Plugin", (), {
            "zero_stage": 2, "deepspeed_config": {"gradient_clipping": "auto"}})()})()
        self.deepspeed_engine_wrapped = self

    def prepare(self, module, optimizer):
        self.module, self.optimizer = module, optimizer
        return module, optimizer

    def no_sync(self, module):  # accelerate gives ZeRO-2 no no_sync: the boundary flag alone decides
        return contextlib.nullcontext()

    def backward(self, loss):
        self.boundaries.append(self.sync_gradients)
        loss.backward()
        if self.sync_gradients:  # DeepSpeedEngineWrapper.backward: engine.step() at the boundary
            clipping = self.state.deepspeed_plugin.deepspeed_config["gradient_clipping"]
            trainable = [p for p in self.module.parameters() if p.requires_grad]
            self.norm = torch.nn.utils.clip_grad_norm_(trainable, clipping).item()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)

    def get_global_grad_norm(self):
        return self.norm

    def reduce(self, tensor, reduction):
        return tensor


def test_under_deepspeed_the_engine_steps_at_the_last_backward_of_each_step(tiny_model_dirs):
    tokenizer = load_tokenizer(tiny_model_dirs["gemma3"])
    micro_batches = [[[item]] for item in encoded_records(tokenizer)]  # four micro-batches of one row
    options = dict(learning_rate=1e-2, warmup_ratio=0.0, gradient_accumulation=2, epochs=1, max_steps=-1,
                   max_grad_norm=0.5, weight_decay=0.0, pad_token_id=tokenizer.pad_token_id, device="cpu", seed=0)
    reference_model = tiny_lora_model(tiny_model_dirs["gemma3"])
    reference = train(reference_model, micro_batches, **options)

    accelerator = StandInDeepSpeedAccelerator()
    model = tiny_lora_model(tiny_model_dirs["gemma3"])
    result = train(model, micro_batches, **options, processes=Processes(accelerator))
    assert accelerator.boundaries == [False, True, False, True]  # two steps of two micro-batches
    assert accelerator.state.deepspeed_plugin.deepspeed_config["gradient_clipping"] == 0.5  # --max_grad_norm
    assert [h["loss"] for h in result.history] == pytest.approx([h["loss"] for h in reference.history], abs=1e-6)
    assert [h["grad_norm"] for h in result.history] == pytest.approx([h["grad_norm"] for h in reference.history],
                                                                     rel=1e-5)
    reference_weights = {n: p for n, p in reference_model.named_parameters() if p.requires_grad}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            assert torch.allclose(parameter, reference_weights[name], atol=1e-6), name
