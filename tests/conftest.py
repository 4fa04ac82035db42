"""Shared test fixtures: saved tiny random models (Gemma-3 and Llama shapes) with a tiny byte-level tokenizer, built
in code in a second, so that the scripts' real code paths run fast; the tiny data files; GiNZA's pipeline. The
builders under them live in builders.py and are re-exported here, the one place tests import them from."""

import pytest
from builders import (NOBODY, REPO_ROOT, SENTENCES, SPECIAL_TOKENS, SYSTEM, TINY_ARCHITECTURES, TINY_RECORDS, FakeHub,
                      build_tiny_model, build_tokenizer, chat_record, encoded_records, fail_at_step, logits,
                      make_perturbed_adapter, marked_batch, missing_ja_ginza, mlflow_client, one_error_line, quiet,
                      settings_for, stopped, tiny_batch, tiny_lora_model, write_jsonl)

__all__ = ["FakeHub", "NOBODY", "REPO_ROOT", "SENTENCES", "SPECIAL_TOKENS", "SYSTEM", "TINY_ARCHITECTURES",
           "TINY_RECORDS", "build_tiny_model", "build_tokenizer", "chat_record", "encoded_records", "fail_at_step",
           "logits", "make_perturbed_adapter", "marked_batch", "missing_ja_ginza", "mlflow_client",
           "one_error_line", "quiet", "settings_for", "stopped", "tiny_batch", "tiny_lora_model", "write_jsonl"]


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """{"gemma3": dir, "llama": dir}: saved tiny models usable with --model."""
    tokenizer = build_tokenizer()
    dirs = {}
    for architecture in ("gemma3", "llama"):
        path = tmp_path_factory.mktemp(f"tiny-{architecture}")
        build_tiny_model(architecture, tokenizer).save_pretrained(path)
        tokenizer.save_pretrained(path)
        dirs[architecture] = path
    return dirs


@pytest.fixture
def tiny_data(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", TINY_RECORDS * 4)
    validation = write_jsonl(tmp_path / "validation.jsonl", TINY_RECORDS)
    return train, validation


@pytest.fixture(scope="session")  # loading GiNZA takes seconds; the pipeline is only read
def ginza_nlp():
    pytest.importorskip("ja_ginza")
    from ftkit.ginza_baseline import load_ginza

    return load_ginza()
