"""Tests of ftkit.formatting: labels, too-long samples, packing without cross-talk, token micro-batches, LwF marks."""

import pytest
import torch
from conftest import TINY_RECORDS, build_tokenizer, encoded_records, marked_batch, quiet, tiny_batch, tiny_lora_model

from ftkit.data import Sample
from ftkit.formatting import (IGNORE_INDEX, Encoded, collate, encode_all, encode_sample, ensure_chat_template,
                              make_micro_batches, make_token_micro_batches, pack)
from ftkit.modeling import load_tokenizer


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
    assert (encode_sample(sample, tokenizer, train_on_all_tokens=True).labels
            == encode_sample(sample, tokenizer).input_ids)


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
    assert max(len(rows) for rows in batches) >= 4 and [len(rows) for rows in batches
                                                        if len(rows[0][0].input_ids) == 300] == [1]
    assert batches == make_token_micro_batches(items, 400, packing=False, max_seq_len=512, seed=0)
    # Packed, with a budget of one row: one packed row per micro-batch, in the order of the earlier releases.
    assert make_token_micro_batches(items, 512, True, 512, seed=3) == make_micro_batches(items, 1, True, 512, seed=3)


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


def test_collate_marks_tokens_only_for_marked_samples(tiny_model_dirs):
    assert "token_kind" not in tiny_batch(tiny_model_dirs["gemma3"])  # the plain recipe's batches are unchanged
    batch, encoded = marked_batch(tiny_model_dirs["gemma3"])
    for row, item in enumerate(encoded):
        length = len(item.input_ids)
        expected = 2 if item.kind == "rehearsal" else 1
        assert batch["token_kind"][row, :length].tolist() == [expected] * length
        assert batch["token_kind"][row, length:].tolist() == [0] * (batch["input_ids"].shape[1] - length)
