"""The bundled dataset: made by the seeded generator, well-formed, and kept apart from the realistic test set."""

import re
import subprocess
import sys

from conftest import REPO_ROOT

from ftkit import DEFAULT_DATASET_DIR
from ftkit.data import load_samples
from ftkit.extraction_metrics import parse_json, schema_ok

GENERATOR = REPO_ROOT / "src" / "v1_000_make_dataset.py"


def user_texts(path):
    return [sample.messages[1]["content"] for sample in load_samples(path)]


def test_committed_files_are_exactly_what_the_generator_writes(tmp_path):
    subprocess.run([sys.executable, str(GENERATOR), "--out-dir", str(tmp_path)], check=True, capture_output=True, timeout=300)
    for name in ("train.jsonl", "validation.jsonl"):
        assert (tmp_path / name).read_bytes() == (DEFAULT_DATASET_DIR / name).read_bytes(), name


def test_a_different_seed_gives_different_data(tmp_path):
    subprocess.run([sys.executable, str(GENERATOR), "--out-dir", str(tmp_path), "--seed", "7", "--train-size", "50",
                    "--validation-size", "10"], check=True, capture_output=True, timeout=300)
    assert user_texts(tmp_path / "train.jsonl")[:10] != user_texts(DEFAULT_DATASET_DIR / "train.jsonl")[:10]


def test_every_answer_is_valid_and_quotes_the_text():
    negatives = 0
    for name in ("train.jsonl", "validation.jsonl", "realistic_test.jsonl"):
        for sample in load_samples(DEFAULT_DATASET_DIR / name):
            text, answer = sample.messages[1]["content"], parse_json(sample.messages[2]["content"])
            assert schema_ok(answer), sample.where
            negatives += not answer["persons"]
            for person in answer["persons"]:
                assert person["name"] in text, sample.where
                assert person.get("address", "") in text, sample.where
    assert negatives > 100


def test_realistic_test_set_is_large_enough_and_never_in_training():
    realistic = user_texts(DEFAULT_DATASET_DIR / "realistic_test.jsonl")
    assert len(realistic) >= 150
    training = "\n".join(user_texts(DEFAULT_DATASET_DIR / "train.jsonl"))
    sentences = [s for text in realistic for s in re.split(r"(?<=。)", text) if len(s) >= 12]
    leaked = [s for s in sentences if s in training]
    assert not leaked, leaked[:3]
