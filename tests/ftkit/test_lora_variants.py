"""LoRA variants as settings over peft and torch (DoRA, rsLoRA, --lora_init, LoRA+, NEFTune), on the tiny models.

Each variant trains a few steps through the training script; its adapter is saved, reloads with plain
`peft.PeftModel.from_pretrained` onto the unchanged base model, and changes the output. PiSSA and OLoRA, which
change the base weights while training, must save an adapter that gives the trained model's outputs on the
unchanged base. LoRA+ gives B a larger learning rate; NEFTune changes the embeddings in training only.
"""

import json
import math

import pytest
import torch
from conftest import settings_for

import v1_000_lora_finetune as finetune
from ftkit.errors import KitError
from ftkit.modeling import attach_lora, lora_init_weights
from ftkit.trainer import make_optimizer, neftune_noise

TEXT = "東京都渋谷区の会社員、山田太郎さん"


def base_model(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)


def logits_of(model, model_dir, text=TEXT):
    from ftkit.modeling import load_tokenizer

    inputs = load_tokenizer(model_dir)(text, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(**inputs).logits


def reloaded(model_dir, run_dir):
    from peft import PeftModel

    return PeftModel.from_pretrained(base_model(model_dir), str(run_dir))


@pytest.mark.parametrize("variant, check", [
    ({"use_dora": True}, lambda config: config["use_dora"] is True),
    ({"use_rslora": True}, lambda config: config["use_rslora"] is True),
    ({"lora_init": "gaussian"}, lambda config: config["init_lora_weights"] == "gaussian"),
    ({"lora_init": "orthogonal"}, lambda config: config["init_lora_weights"] == "orthogonal"),
    # saved converted to plain LoRA of twice the rank, loadable onto the unchanged base
    ({"lora_init": "pissa_niter_2"}, lambda config: config["init_lora_weights"] is True and config["r"] == 32),
    ({"lora_init": "olora"}, lambda config: config["init_lora_weights"] is True and config["r"] == 32),
    ({"loraplus_lr_ratio": 16.0}, lambda config: config["r"] == 16),
    ({"neftune_noise_alpha": 5.0}, lambda config: config["r"] == 16),
], ids=["dora", "rslora", "gaussian", "orthogonal", "pissa", "olora", "loraplus", "neftune"])
def test_each_variant_trains_saves_reloads_with_plain_peft_and_changes_the_output(tiny_model_dirs, tiny_data, tmp_path,
                                                                                   variant, check):
    train, validation = tiny_data
    model_dir = tiny_model_dirs["gemma3"]
    run_dir = finetune.main(settings_for(model_dir, train, validation, tmp_path / "out", max_steps=2, **variant))
    config = json.loads((run_dir / "adapter_config.json").read_text())
    assert check(config), config
    recorded = (run_dir / "config.yml").read_text()
    for name, value in variant.items():
        assert f"{name}: {str(value).lower() if isinstance(value, bool) else value}" in recorded
    base = logits_of(base_model(model_dir), model_dir)
    adapted = logits_of(reloaded(model_dir, run_dir), model_dir)
    assert not torch.allclose(base, adapted, atol=1e-4)
    assert json.loads((run_dir / "train_metrics.json").read_text())["validation_loss"] is not None


@pytest.mark.parametrize("init", ["pissa", "pissa_niter_2", "olora"])
def test_pissa_and_olora_save_an_adapter_that_gives_the_trained_model_on_the_unchanged_base(tiny_model_dirs, tmp_path,
                                                                                            init):
    model_dir = tiny_model_dirs["llama"]
    torch.manual_seed(0)
    model = attach_lora(base_model(model_dir), 4, 8, 0.0, "auto", qlora=False, gradient_checkpointing=False, init=init)
    base_weight = base_model(model_dir).model.layers[0].self_attn.q_proj.weight
    changed = model.base_model.model.model.layers[0].self_attn.q_proj.base_layer.weight
    assert not torch.allclose(base_weight, changed)  # the base keeps the residual W - BA
    with torch.no_grad():  # "training": move every LoRA weight
        for name, parameter in model.named_parameters():
            if "lora_" in name:
                parameter.add_(0.05 * torch.randn_like(parameter))
    trained = logits_of(model, model_dir)
    model.save_pretrained(tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["lora_alpha"] == 16 and config["init_lora_weights"] is True
    assert sorted(p.name for p in (tmp_path / "adapter").iterdir()) == ["README.md", "adapter_config.json",
                                                                        "adapter_model.safetensors"]
    torch.testing.assert_close(logits_of(reloaded(model_dir, tmp_path / "adapter"), model_dir), trained, atol=1e-4,
                               rtol=1e-4)
    torch.testing.assert_close(logits_of(model, model_dir), trained)  # the model in memory is as it was


def test_loraplus_puts_b_at_the_ratio_times_the_learning_rate(tiny_model_dirs):
    model = attach_lora(base_model(tiny_model_dirs["gemma3"]), 4, 8, 0.0, "auto", qlora=False,
                        gradient_checkpointing=False,
                        use_dora=True)
    trainable = [p for p in model.parameters() if p.requires_grad]
    names = {id(p): name for name, p in model.named_parameters()}
    optimizer = make_optimizer(model, trainable, 1e-3, 0.01, loraplus_lr_ratio=16)
    rates = {}
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            rates[names[id(parameter)]] = (group["lr"], group["weight_decay"])
    assert set(rates) == {names[id(p)] for p in trainable}  # every trainable parameter, once
    assert {rates[n] for n in rates if "lora_A" in n} == {(1e-3, 0.01)}
    assert [rates[n][0] for n in rates if "lora_B" in n] == pytest.approx([16e-3] * 14)  # 2 layers x 7 projections
    magnitudes = [rates[n][0] for n in rates if "lora_magnitude_vector" in n]  # DoRA's: one-dimensional, with B
    assert magnitudes == pytest.approx([16e-3] * 14)
    [group] = make_optimizer(model, trainable, 1e-3, 0.01).param_groups  # off: plain AdamW, one group
    assert group["lr"] == 1e-3 and len(group["params"]) == len(trainable)


def test_loraplus_keeps_its_ratio_through_the_schedule(tiny_model_dirs, tiny_data, tmp_path, monkeypatch):
    import ftkit.trainer

    seen = []
    real = ftkit.trainer.make_optimizer

    def recording(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(ftkit.trainer, "make_optimizer", recording)
    train, validation = tiny_data
    finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=3,
                               loraplus_lr_ratio=4.0, min_learning_rate=1e-3))
    [optimizer] = seen
    a, _, b, _ = optimizer.param_groups  # peft's groups: A, embedding, B, B without decay
    assert (a["initial_lr"], b["initial_lr"]) == pytest.approx((5e-3, 20e-3))
    assert (a["lr"], b["lr"]) == pytest.approx((1e-3, 4e-3))  # the schedule's end: both at the minimum ratio


def test_neftune_noise_is_in_training_embeddings_only_and_gone_afterwards(tiny_model_dirs):
    model = attach_lora(base_model(tiny_model_dirs["gemma3"]), 4, 8, 0.0, "auto", qlora=False,
                        gradient_checkpointing=False)
    embeddings = model.get_input_embeddings()
    ids = torch.arange(1, 41).unsqueeze(0)  # 40 tokens
    clean = embeddings(ids).detach()
    bound = 5.0 / math.sqrt(40 * clean.shape[-1])
    with neftune_noise(model, 5.0):
        model.train()
        noisy = embeddings(ids).detach()
        assert not torch.equal(noisy, clean)
        assert (noisy - clean).abs().max() <= bound + 1e-6  # uniform in [-alpha/sqrt(L d), +alpha/sqrt(L d)]
        assert (noisy - clean).abs().max() > bound / 2
        model.eval()
        assert torch.equal(embeddings(ids), clean)  # evaluation and generation see no noise
    model.train()
    assert torch.equal(embeddings(ids), clean)  # the hook is removed on leaving (before saving)
    with neftune_noise(model, 0.0):
        assert torch.equal(embeddings(ids), clean)


def test_neftune_runs_only_around_the_training_steps(tiny_model_dirs, tiny_data, tmp_path, monkeypatch):
    """Validation inside training and the final evaluation run without the hook's noise: the validation loss
    of the saved adapter is the same as the one measured again afterwards without NEFTune."""
    import ftkit.trainer

    hooks = []
    real = ftkit.trainer.neftune_noise

    def counting(model, alpha):
        hooks.append(model.get_input_embeddings())
        return real(model, alpha)

    monkeypatch.setattr(finetune, "neftune_noise", counting)
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=2,
                                         eval_every=1, neftune_noise_alpha=5.0))
    [embeddings] = hooks
    assert not embeddings._forward_hooks  # removed when training ended, before evaluation and saving
    assert (run_dir / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize("overrides, message", [
    ({"lora_init": "eva"}, "--lora_init is 'eva', expected one of: default, gaussian, orthogonal, pissa, olora, or "
                           "pissa_niter_N (N >= 1 iterations of a fast SVD)"),
    ({"lora_init": "pissa_niter_0"}, "--lora_init is 'pissa_niter_0', expected one of"),
    ({"lora_init": "orthogonal", "lora_r": 15}, "--lora_init orthogonal needs an even --lora_r"),
    ({"lora_init": "pissa", "use_dora": True}, "--lora_init pissa cannot go with --use_dora"),
    ({"lora_init": "olora", "qlora": True}, "--lora_init olora cannot go with --qlora"),
    ({"loraplus_lr_ratio": -1.0}, "--loraplus_lr_ratio is -1.0, expected a number of at least 0"),
    ({"neftune_noise_alpha": float("nan")}, "--neftune_noise_alpha is nan, expected a number of at least 0"),
])
def test_bad_variant_settings_are_one_line_before_anything_loads(overrides, message):
    with pytest.raises(KitError) as error:
        finetune.check_settings(finetune.Settings(**overrides))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_lora_init_names_map_to_peft():
    assert lora_init_weights("default") is True
    assert lora_init_weights("pissa_niter_4") == "pissa_niter_4"
    assert lora_init_weights("olora") == "olora"
