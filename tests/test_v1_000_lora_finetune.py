"""Tests of the training script and the plumbing under it, on tiny random models (seconds each)."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import (REPO_ROOT, TINY_RECORDS, build_tokenizer, encoded_records, fail_at_step, quiet, settings_for,
                      tiny_lora_model, write_jsonl)

import v1_000_lora_finetune as finetune
from ftkit.data import Sample, load_samples
from ftkit.errors import KitError
from ftkit.formatting import (IGNORE_INDEX, Encoded, collate, encode_all, encode_sample, ensure_chat_template,
                              make_micro_batches, make_token_micro_batches, pack)
from ftkit.loss import label_token_loss_sum
from ftkit.modeling import load_tokenizer
from ftkit.trainer import train


# ------------------------------------------------------------------------------------------- formatting


def test_labels_cover_exactly_the_assistant_answer_and_end_of_turn():
    tokenizer = build_tokenizer()
    encoded = encoded_records(tokenizer)[0]
    labelled = [token for token, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(labelled) == TINY_RECORDS[0]["messages"][2]["content"] + "<end_of_turn>\n"
    # Everything before the answer (system prompt, user text, turn markers) carries no loss.
    first = encoded.labels.index(next(label for label in encoded.labels if label != IGNORE_INDEX))
    assert tokenizer.decode(encoded.input_ids[:first]).endswith("<start_of_turn>model\n")
    assert all(label == IGNORE_INDEX for label in encoded.labels[:first])


def test_prompt_completion_and_text_records_end_with_eos():
    tokenizer = build_tokenizer()
    completion = encode_sample(Sample("t:1", "prompt_completion", prompt="質問", completion="答え"), tokenizer)
    assert completion.input_ids[-1] == tokenizer.eos_token_id and completion.labels[-1] == tokenizer.eos_token_id
    assert completion.labels[:2] == [IGNORE_INDEX, IGNORE_INDEX]
    text = encode_sample(Sample("t:2", "text", text="本文"), tokenizer)
    assert text.labels == text.input_ids and text.input_ids[0] == tokenizer.bos_token_id


def test_train_on_all_tokens_labels_the_prompt_too():
    tokenizer = build_tokenizer()
    ensure_chat_template(tokenizer, log=quiet)
    sample = Sample("t:1", "chat", messages=TINY_RECORDS[0]["messages"])
    assert encode_sample(sample, tokenizer, train_on_all_tokens=True).labels == encode_sample(sample, tokenizer).input_ids


def test_too_long_samples_are_counted_and_skipped_or_truncated():
    tokenizer = build_tokenizer()
    ensure_chat_template(tokenizer, log=quiet)
    samples = [Sample(f"t:{i}", "chat", messages=r["messages"]) for i, r in enumerate(TINY_RECORDS)]
    lengths = sorted(len(encode_sample(s, tokenizer).input_ids) for s in samples)
    limit = lengths[1]  # the two longest samples are over it
    kept, too_long = encode_all(samples, tokenizer, limit, False, "skip")
    assert too_long == 2 and len(kept) == 2
    kept, too_long = encode_all(samples, tokenizer, limit, False, "truncate")
    # Truncated samples stay when part of their answer survives; one cut before its answer has nothing to learn.
    assert too_long == 2 and len(kept) >= 3 and max(len(e.input_ids) for e in kept) == limit
    assert all(e.num_label_tokens > 0 for e in kept)


def test_packing_fills_rows_without_exceeding_the_limit():
    items = [Encoded([1] * n, [1] * n) for n in (300, 200, 150, 100, 60)]
    rows = pack(items, 512)
    assert sorted(sum(len(i.input_ids) for i in row) for row in rows) == [310, 500]
    assert sorted(len(i.input_ids) for row in rows for i in row) == [60, 100, 150, 200, 300]


def test_token_micro_batches_respect_the_budget_and_keep_every_sample():
    lengths = [300, 200, 150, 100, 60, 40, 40, 30]
    items = [Encoded(list(range(n)), [1] * n) for n in lengths]
    batches = make_token_micro_batches(items, 400, packing=False, max_seq_len=512, seed=0)
    for rows in batches:
        padded = len(rows) * max(len(row[0].input_ids) for row in rows)
        assert padded <= 400 or len(rows) == 1
    assert sorted(len(row[0].input_ids) for rows in batches for row in rows) == sorted(lengths)
    # Short samples share a micro-batch; a long one stays alone: tokens bound the batch, not a sample count.
    assert max(len(rows) for rows in batches) >= 4 and [len(rows) for rows in batches if len(rows[0][0].input_ids) == 300] == [1]
    assert batches == make_token_micro_batches(items, 400, packing=False, max_seq_len=512, seed=0)
    # Packed, with a budget of one row: one packed row per micro-batch, in the order of the earlier releases.
    assert make_token_micro_batches(items, 512, True, 512, seed=3) == make_micro_batches(items, 1, True, 512, seed=3)


# ------------------------------------------------------------------------------------------------- loss


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


@pytest.mark.parametrize("architecture", ["gemma3", "llama"])
def test_packed_samples_do_not_attend_to_each_other(tiny_model_dirs, architecture):
    tokenizer = load_tokenizer(tiny_model_dirs[architecture])
    first, second = encoded_records(tokenizer)[:2]
    model = tiny_lora_model(tiny_model_dirs[architecture]).eval()
    forward = lambda batch: model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False).logits[0]
    # use_cache=False as in training: transformers reads packed position ids only when there is no KV cache.
    with torch.no_grad():
        alone = forward(collate([[second]], 0))
        packed_batch = collate([[first, second]], 0)
        assert "attention_mask" not in packed_batch  # the mask comes from the restarting position ids
        packed = forward(packed_batch)[len(first.input_ids):]
        # Control: the same row with positions that do not restart lets the second sample see the first.
        packed_batch["position_ids"] = torch.arange(packed_batch["input_ids"].shape[1])[None]
        leaky = forward(packed_batch)[len(first.input_ids):]
    assert torch.allclose(packed, alone, atol=1e-4)
    assert not torch.allclose(leaky, alone, atol=1e-2)


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


def test_gradient_checkpointing_is_switched_on_only_when_memory_is_short(tiny_model_dirs, monkeypatch):
    from transformers import AutoConfig

    import ftkit.modeling as modeling

    config = AutoConfig.from_pretrained(tiny_model_dirs["gemma3"])  # 2 layers, hidden 64, MLP 128
    per_token = 2 * (10 * 64 + 4 * 128) * 4
    monkeypatch.setattr(modeling, "free_memory_bytes", lambda device: 2 * 2 * per_token * 1000)
    assert not modeling.needs_gradient_checkpointing(config, 1000, "cpu", torch.float32, log=quiet)
    assert modeling.needs_gradient_checkpointing(config, 1001, "cpu", torch.float32, log=quiet)


# ----------------------------------------------------------------------------------------- whole script


@pytest.mark.parametrize("architecture", ["gemma3", "llama"])
def test_script_trains_saves_and_the_adapter_changes_outputs(tiny_model_dirs, tiny_data, tmp_path, architecture):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    train, validation = tiny_data
    model_dir = tiny_model_dirs[architecture]
    run_dir = finetune.main(settings_for(model_dir, train, validation, tmp_path / "out", max_steps=6))
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "run.json",
                 "train_metrics.json", "loss_curve.png"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    assert metrics["optimizer_steps"] == 6 and metrics["validation_loss"] > 0
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]
    saved = json.loads((run_dir / "run.json").read_text())
    assert saved["settings"]["max_steps"] == 6 and str(train) in saved["data_sha256"]

    # Plain peft loads it, and it changes the model's output.
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    inputs = torch.tensor([[2, 10, 20, 30, 40]])
    with torch.no_grad():
        base_logits = base(inputs).logits
        adapted = PeftModel.from_pretrained(base, run_dir)
        adapted_logits = adapted(inputs).logits
    assert (adapted_logits - base_logits).abs().max() > 1e-3


def test_runs_never_overwrite_each_other(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    first = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, "", tmp_path / "out", max_steps=1))
    second = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, "", tmp_path / "out", max_steps=1))
    assert first != second and first.is_dir() and second.is_dir()


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_interrupted_or_failed_run_leaves_no_complete_looking_folder(tiny_model_dirs, tiny_data, tmp_path, monkeypatch, failure):
    train, validation = tiny_data
    calls = fail_at_step(monkeypatch, 3, failure)
    output = tmp_path / "out"
    with pytest.raises((SystemExit, RuntimeError)):
        finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=5))
    assert calls["n"] == 3
    assert list(output.iterdir()) == []


def test_killed_run_cleans_up_its_folder(tiny_model_dirs, tiny_data, tmp_path):
    """SIGTERM (plain `kill`) mid-training: the script stops cleanly and removes its unfinished folder."""
    import signal
    import time

    train, _ = tiny_data
    output = tmp_path / "out"
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "src" / "v1_000_lora_finetune.py"), "--model",
                                str(tiny_model_dirs["gemma3"]), "--train_file", str(train), "--validation_file", "",
                                "--output_dir", str(output), "--max_steps", "100000", "--report_to", "none"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (output.is_dir() and any(output.iterdir())) and time.time() < deadline:
        time.sleep(0.2)
    assert [p.name.startswith(".incomplete-") for p in output.iterdir()] == [True]
    time.sleep(1.0)  # inside the training loop
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert list(output.iterdir()) == []


def test_qlora_trains_on_the_cpu(tiny_model_dirs, tiny_data, tmp_path):
    import bitsandbytes as bnb

    model = tiny_lora_model(tiny_model_dirs["gemma3"], qlora=True)
    assert any(isinstance(module, bnb.nn.Linear4bit) for module in model.modules())
    train, validation = tiny_data
    run_dir = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path / "out", max_steps=4, qlora=True))
    metrics = json.loads((run_dir / "train_metrics.json").read_text())
    assert metrics["history"][-1]["loss"] < metrics["history"][0]["loss"]


# -------------------------------------------------------------------------------------------- bad input


def run_script(*args):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "src" / "v1_000_lora_finetune.py"), *args],
                            capture_output=True, text=True, timeout=300)
    return result.returncode, result.stderr.strip()


def test_bad_line_is_reported_with_file_and_line_number_and_no_traceback(tiny_model_dirs, tmp_path):
    data = tmp_path / "bad.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in TINY_RECORDS]
    lines.insert(2, '{"messages": [')
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, stderr = run_script("--model", str(tiny_model_dirs["gemma3"]), "--train_file", str(data),
                              "--output_dir", str(tmp_path / "out"))
    assert code == 2
    last_line = stderr.splitlines()[-1]
    assert last_line.startswith("error: ") and f"{data}:3: malformed JSON line" in last_line
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("content, message", [
    ("", "data file is empty"),
    ('{"messages": []}\n', "bad.jsonl:1: field 'messages' must be a non-empty list"),
    ('{"text": "a"}\n{"question": "q", "answer": "a"}\n', "bad.jsonl:2: record matches no schema (keys: answer, question)"),
    ('{"messages": [{"role": "user", "content": "hi"}]}\n', "bad.jsonl:1: chat record has no assistant turn"),
    ('{"messages": [{"role": "bot", "content": "hi"}]}\n', "messages[0].role is 'bot'"),
    ('[\n {"text": "a"},\n {"prompt": 1, "completion": "b"}\n]\n', "bad.json:3: field 'prompt' must be a string"),
])
def test_each_bad_record_gets_its_own_message(tmp_path, content, message):
    path = tmp_path / ("bad.json" if content.startswith("[") else "bad.jsonl")
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KitError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_samples(path)


def test_all_four_schemas_are_accepted(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        TINY_RECORDS[0],
        {"instruction": "要約して", "input": "本文", "output": "要約"},
        {"prompt": "質問", "completion": "答え"},
        {"text": "ただの文章"},
    ])
    samples = load_samples(path)
    assert [s.schema for s in samples] == ["chat", "chat", "prompt_completion", "text"]
    assert samples[1].messages[0]["content"] == "要約して\n\n本文"


def test_missing_data_file_and_missing_model_are_clear_errors(tmp_path):
    code, stderr = run_script("--train_file", str(tmp_path / "nope.jsonl"), "--model", str(tmp_path / "my-model"))
    assert code == 2 and stderr.splitlines()[-1].startswith(f"error: --model {tmp_path / 'my-model'}: not a model directory")
    assert "Traceback" not in stderr


def test_samples_over_max_length_are_counted_in_the_report(tiny_model_dirs, tmp_path, capsys):
    long_record = json.loads(json.dumps(TINY_RECORDS[0]))
    long_record["messages"][1]["content"] *= 20
    train = write_jsonl(tmp_path / "train.jsonl", TINY_RECORDS + [long_record, long_record])
    limit = max(len(e.input_ids) for e in encoded_records(load_tokenizer(tiny_model_dirs["gemma3"])))
    finetune.main(settings_for(tiny_model_dirs["gemma3"], train, "", tmp_path / "out", max_steps=1, max_seq_len=limit))
    assert f"2 samples were longer than --max_seq_len {limit} and were skipped" in capsys.readouterr().out


def test_max_train_samples_keeps_the_first_records_only(tiny_model_dirs, tmp_path):
    tokenizer = build_tokenizer()
    ensure_chat_template(tokenizer, log=quiet)
    train = write_jsonl(tmp_path / "train.jsonl", TINY_RECORDS * 4)
    validation = write_jsonl(tmp_path / "validation.jsonl", TINY_RECORDS)
    every = finetune.prepare_data(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path), tokenizer)
    first = finetune.prepare_data(settings_for(tiny_model_dirs["gemma3"], train, validation, tmp_path,
                                               max_train_samples=3), tokenizer)
    assert (every.train_samples, first.train_samples) == (16, 3)
    rows = [item for batch in first.train_batches for row in batch for item in row]
    assert sorted(item.input_ids for item in rows) == sorted(item.input_ids for item in encoded_records(tokenizer)[:3])
