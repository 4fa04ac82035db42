"""Adapters for tests of the merge and export scripts: a LoRA on a tiny model whose B matrices are set to random
values (instead of trained), so that the adapter clearly changes the outputs in no time. Seeded."""

from pathlib import Path


def make_perturbed_adapter(model_dir: Path, run_dir: Path, scale: float = 0.05, seed: int = 0) -> Path:
    """Save a LoRA adapter for the model in `model_dir` into `run_dir`, like a finished training run: adapter
    files, tokenizer with chat template, and `config.yml` naming the base model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from ftkit.formatting import ensure_chat_template
    from ftkit.modeling import load_tokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, scale)
    run_dir.mkdir(parents=True)
    peft_model.save_pretrained(run_dir)
    tokenizer = load_tokenizer(model_dir)
    ensure_chat_template(tokenizer, log=lambda message: None)
    tokenizer.save_pretrained(run_dir)
    (run_dir / "config.yml").write_text(f"model: {model_dir}\n", encoding="utf-8")
    return run_dir


def logits(model, tokenizer, text: str):
    import torch

    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).logits.float()
