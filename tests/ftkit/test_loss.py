"""Tests of ftkit.loss: the chunked label-token loss and its gradients equal the stock loss, and it trains."""

import pytest
import torch
from conftest import encoded_records, tiny_lora_model

from ftkit.formatting import collate
from ftkit.loss import label_token_loss_sum
from ftkit.modeling import load_tokenizer


@pytest.mark.parametrize("architecture", ["gemma3", "llama"])
def test_label_token_loss_and_gradients_equal_the_stock_loss(tiny_model_dirs, architecture):
    tokenizer = load_tokenizer(tiny_model_dirs[architecture])
    encoded = encoded_records(tokenizer)
    batch = collate([[item] for item in encoded], tokenizer.pad_token_id)
    model = tiny_lora_model(tiny_model_dirs[architecture])
    torch.nn.init.normal_(model.base_model.model.model.layers[0].self_attn.q_proj.lora_B.default.weight, std=0.1)
    lora_weight = model.base_model.model.model.layers[0].self_attn.q_proj.lora_B.default.weight

    stock = model(**batch).loss
    stock.backward()
    stock_grad = lora_weight.grad.clone()
    lora_weight.grad = None
    loss_sum, count = label_token_loss_sum(model, batch, chunk_size=7)  # several chunks, recomputed in backward
    (loss_sum / count).backward()
    assert torch.allclose(loss_sum / count, stock, atol=1e-5)
    assert torch.allclose(lora_weight.grad, stock_grad, atol=1e-6)


def test_loss_goes_down_on_a_fixed_batch(tiny_model_dirs):
    tokenizer = load_tokenizer(tiny_model_dirs["gemma3"])
    batch = collate([[item] for item in encoded_records(tokenizer)], tokenizer.pad_token_id)
    model = tiny_lora_model(tiny_model_dirs["gemma3"])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-2)
    losses = []
    for _ in range(30):
        loss_sum, count = label_token_loss_sum(model, batch)
        (loss_sum / count).backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss_sum.item() / count)
    assert losses[-1] < 0.6 * losses[0], losses
