"""The GPU paths of the training script: bf16, Liger's fused loss, QLoRA with CUDA bitsandbytes.

Skipped where there is no CUDA GPU (CI has none); run on a GPU machine with the same command as the rest.
"""

import json

import pytest
import torch
from conftest import encoded_records, settings_for

import v1_000_lora_finetune as finetune
from ftkit.formatting import collate
from ftkit.loss import label_token_loss_sum, liger_fused_cross_entropy
from ftkit.modeling import attach_lora, load_base_model, load_tokenizer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_liger_fused_loss_equals_the_chunked_loss_and_gradients(tiny_model_dirs, monkeypatch):
    if liger_fused_cross_entropy() is None:
        pytest.skip("liger-kernel is not installed")
    import ftkit.loss

    tokenizer = load_tokenizer(tiny_model_dirs["gemma3"])
    batch = {k: v.cuda() for k, v in collate([[e] for e in encoded_records(tokenizer)], tokenizer.pad_token_id).items()}
    torch.manual_seed(0)
    model = attach_lora(load_base_model(tiny_model_dirs["gemma3"], "cuda", torch.float32), 8, 16, 0.0, "all-linear",
                        False, False)
    lora_b = model.base_model.model.model.layers[0].self_attn.q_proj.lora_B.default.weight
    torch.nn.init.normal_(lora_b, std=0.1)

    results = []
    for fused in (True, False):
        monkeypatch.setattr(ftkit.loss, "liger_fused_cross_entropy",
                            (lambda: None) if not fused else liger_fused_cross_entropy)
        loss_sum, count = label_token_loss_sum(model, batch, chunk_size=7)
        (loss_sum / count).backward()
        results.append((loss_sum.item() / count, lora_b.grad.clone()))
        lora_b.grad = None
    (fused_loss, fused_grad), (chunked_loss, chunked_grad) = results
    assert fused_loss == pytest.approx(chunked_loss, abs=1e-4)
    assert torch.allclose(fused_grad, chunked_grad, atol=1e-5)


@pytest.mark.parametrize("qlora", [False, True])
def test_script_trains_on_the_gpu_in_bf16(tiny_model_dirs, tiny_data, tmp_path, capsys, qlora):
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out",
                                         max_steps=8, qlora=qlora))
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]
    printed = capsys.readouterr().out
    assert "on cuda, bfloat16" in printed
