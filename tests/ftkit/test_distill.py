"""Tests of ftkit.distill: LwF's KL on a fresh adapter, chunked against unchunked (value, gradient, memory), scopes."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT, marked_batch, tiny_batch, tiny_lora_model

from ftkit.distill import lwf_loss_sum
from ftkit.loss import label_token_loss_sum


def lora_b(model):
    return model.base_model.model.model.layers[0].self_attn.q_proj.lora_B.default.weight


def test_kl_is_zero_while_the_adapter_is_fresh(tiny_model_dirs):
    model = tiny_lora_model(tiny_model_dirs["gemma3"])  # LoRA B starts at zero: student == teacher
    batch = tiny_batch(tiny_model_dirs["gemma3"])
    total, count, parts = lwf_loss_sum(model, batch, distill_lambda=0.5, temperature=2.0)
    plain_sum, plain_count = label_token_loss_sum(model, batch)
    assert abs(parts["distill_kl"].item()) < 1e-5
    assert count == plain_count and total.item() == pytest.approx(plain_sum.item(), rel=1e-5)

    torch.nn.init.normal_(lora_b(model), std=0.1)  # once the adapter moves, the KL does too
    _, _, parts = lwf_loss_sum(model, batch, distill_lambda=0.5)
    assert parts["distill_kl"].item() > 1e-3


def test_chunked_kl_equals_unchunked_in_value_and_gradient(tiny_model_dirs):
    model = tiny_lora_model(tiny_model_dirs["gemma3"])
    torch.nn.init.normal_(lora_b(model), std=0.1)
    batch = tiny_batch(tiny_model_dirs["gemma3"])
    results = []
    for chunk_size in (5, 10**9):  # several chunks (checkpointed) against one chunk holding every token
        total, count, parts = lwf_loss_sum(model, batch, distill_lambda=0.7, temperature=2.0, chunk_size=chunk_size)
        (total / count).backward()
        results.append((total.item(), parts["distill_kl"].item(), lora_b(model).grad.clone()))
        lora_b(model).grad = None
    (chunked_total, chunked_kl, chunked_grad), (whole_total, whole_kl, whole_grad) = results
    assert chunked_kl > 1e-3
    assert chunked_total == pytest.approx(whole_total, rel=1e-5) and chunked_kl == pytest.approx(whole_kl, rel=1e-4)
    assert torch.allclose(chunked_grad, whole_grad, atol=1e-6)


PEAK_MEMORY_PROBE = textwrap.dedent("""
    import sys
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Gemma3TextConfig
    sys.path.insert(0, {src!r})
    from ftkit.distill import lwf_loss_sum

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=131072, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                              num_attention_heads=1, num_key_value_heads=1, head_dim=32, layer_types=["full_attention"])
    model = get_peft_model(AutoModelForCausalLM.from_config(config), LoraConfig(r=4, target_modules="all-linear"))
    ids = torch.randint(0, 131072, (1, 400))
    batch = {{"input_ids": ids, "labels": ids.clone()}}

    def high_water_mib():
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024

    def current_mib():
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024

    lwf_loss_sum(model, {{k: v[:, :8] for k, v in batch.items()}}, 0.5)  # warm-up, small
    open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark to the current size
    before = current_mib()
    total, count, _ = lwf_loss_sum(model, batch, 0.5, chunk_size=int(sys.argv[1]))
    (total / count).backward()
    print(high_water_mib() - before)
""")


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to read peak memory")
def test_chunked_kl_peaks_lower_than_unchunked_on_a_large_vocabulary(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PEAK_MEMORY_PROBE.format(src=str(REPO_ROOT / "src")))
    # glibc keeps freed memory for reuse, which would blur the peak; mapping every block over 64 KiB on its own
    # makes the resident size follow the live tensors.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    peaks = {}
    for chunk_size in (32, 10**9):  # 400 tokens x 131,072 logits: 200 MiB per fp32 tensor when unchunked
        out = subprocess.run([sys.executable, str(probe), str(chunk_size)], capture_output=True, text=True, timeout=300,
                             env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        peaks[chunk_size] = float(out.stdout.strip().splitlines()[-1])
    assert peaks[10**9] > 400, peaks  # the unchunked path holds several 200 MiB logit tensors at once
    assert peaks[32] < 0.25 * peaks[10**9], peaks


def test_kl_on_rehearsal_only_equals_the_kl_of_the_rehearsal_rows_alone(tiny_model_dirs):
    model = tiny_lora_model(tiny_model_dirs["gemma3"])
    torch.nn.init.normal_(lora_b(model), std=0.3)
    mixed, _ = marked_batch(tiny_model_dirs["gemma3"])
    rehearsal_rows, _ = marked_batch(tiny_model_dirs["gemma3"], rows=[1, 3])
    _, count, parts = lwf_loss_sum(model, mixed, distill_lambda=0.5, distill_on="rehearsal")
    _, _, alone = lwf_loss_sum(model, rehearsal_rows, distill_lambda=0.5, distill_on="answers")
    plain_sum, plain_count = label_token_loss_sum(model, mixed)
    assert alone["distill_kl"].item() > 1e-3
    assert parts["distill_kl"].item() == pytest.approx(alone["distill_kl"].item(), rel=1e-4)
    # The cross-entropy still covers every answer, task and rehearsal alike.
    assert count == plain_count and parts["task_loss"].item() == pytest.approx(plain_sum.item(), rel=1e-5)


def test_kl_on_prompt_tokens_covers_the_task_prompts_and_nothing_else(tiny_model_dirs):
    from ftkit.distill import distill_positions
    from ftkit.formatting import IGNORE_INDEX

    batch, encoded = marked_batch(tiny_model_dirs["gemma3"])
    is_label = batch["labels"][:, 1:] != IGNORE_INDEX
    on_kl = distill_positions(batch, is_label, "prompt")
    for row, item in enumerate(encoded):
        # Position t predicts token t+1: every prompt token after the first is predicted once; none of a
        # rehearsal sample, no answer token, no padding.
        prompt_tokens = sum(label == IGNORE_INDEX for label in item.labels[1:])
        assert int(on_kl[row].sum()) == (prompt_tokens if item.kind == "task" else 0)
        assert not (on_kl[row] & is_label[row]).any()

    model = tiny_lora_model(tiny_model_dirs["gemma3"])
    torch.nn.init.normal_(lora_b(model), std=0.1)
    total, _, parts = lwf_loss_sum(model, batch, distill_lambda=0.5, distill_on="prompt")
    assert parts["distill_kl"].item() > 1e-3
    assert total.item() == pytest.approx(parts["task_loss"].item() + 0.5 * parts["distill_kl"].item(), rel=1e-5)
