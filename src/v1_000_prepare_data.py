"""Mix positive and negative samples at a chosen ratio, the usual guard against a model that invents answers.

A negative is a record whose answer is empty JSON ({"persons": []}, or any object whose lists are all empty);
every other record is a positive. Positives can be repeated k times; negatives are the first N in file order,
or as many as give a target share. The result is shuffled with a seed and written as JSONL.

Run:
    python src/v1_000_prepare_data.py --output tmp_docker/dataset/train_mix.jsonl --negative_ratio 0.2
    python src/v1_000_prepare_data.py --input a.jsonl --input b.jsonl --positive_repeat 2 --negatives 100 \\
        --output mix.jsonl
Every input line is checked with the training loader first (errors name file and line).
"""

import random
from dataclasses import dataclass, field
from pathlib import Path

from ftkit import DEFAULT_DATASET_DIR
from ftkit.cli import run_cli
from ftkit.data import load_checked_records
from ftkit.errors import KitError
from ftkit.extraction_metrics import parse_json
from ftkit.files import write_jsonl


@dataclass
class Settings:
    input: list[str] = field(default_factory=lambda: [str(DEFAULT_DATASET_DIR / "train.jsonl")], metadata={
        "help": "input file(s), .jsonl or .json"})
    output: str = field(default="", metadata={"help": "output .jsonl file (required; never one of the inputs)"})
    positive_repeat: int = field(default=1, metadata={"help": "how many times each positive is included"})
    negatives: int = field(default=-1, metadata={
        "help": "keep the first N negatives (-1: all, unless --negative_ratio)"})
    negative_ratio: float = field(default=-1.0, metadata={
        "help": "target share of negatives in the output, 0..1 (overrides --negatives)"})
    seed: int = field(default=0, metadata={"help": "shuffle seed"})


def is_negative(answer: str) -> bool:
    value = parse_json(answer)
    if isinstance(value, dict):
        return bool(value) and all(isinstance(v, (list, dict)) and not v for v in value.values())
    return value == []


def final_answer(sample) -> str:
    if sample.schema == "chat":
        return next(m["content"] for m in reversed(sample.messages) if m["role"] == "assistant")
    return sample.completion if sample.schema == "prompt_completion" else sample.text


def negatives_for_ratio(positive_count: int, available: int, ratio: float) -> int:
    """How many negatives make `ratio` of the total: n / (positives + n) = ratio."""
    if not 0 <= ratio < 1:
        raise KitError(f"--negative_ratio must be in [0, 1), got {ratio}")
    wanted = round(ratio * positive_count / (1 - ratio))
    if wanted > available:
        raise KitError(f"--negative_ratio {ratio} needs {wanted} negatives but the input has {available}; "
                       "lower the ratio or --positive_repeat")
    return wanted


def main(settings: Settings):
    if not settings.output:
        raise KitError("--output is required (the file to write)")
    if any(Path(settings.output).resolve() == Path(p).resolve() for p in settings.input):
        raise KitError(f"--output {settings.output} is also an input; write to a new file")
    if settings.positive_repeat < 1:
        raise KitError(f"--positive_repeat must be at least 1, got {settings.positive_repeat}")
    positives, negatives = [], []
    for path in settings.input:
        for record, sample in load_checked_records(path):
            (negatives if is_negative(final_answer(sample)) else positives).append(record)
    positive_records = positives * settings.positive_repeat
    if settings.negative_ratio >= 0:
        keep = negatives_for_ratio(len(positive_records), len(negatives), settings.negative_ratio)
    else:
        keep = len(negatives) if settings.negatives < 0 else min(settings.negatives, len(negatives))
    mixed = positive_records + negatives[:keep]
    random.Random(settings.seed).shuffle(mixed)

    output = Path(settings.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(output, mixed, keep_mode=True)  # a data file, readable like the inputs
    share = keep / len(mixed) if mixed else 0.0
    print(f"[mix] read {len(positives)} positives and {len(negatives)} negatives from {len(settings.input)} file(s)")
    print(f"[mix] wrote {len(mixed)} records to {output}: {len(positive_records)} positives "
          f"({len(positives)} x {settings.positive_repeat}) + {keep} negatives, negative share {share:.3f}")
    return {"positives": len(positive_records), "negatives": keep, "negative_share": share}


if __name__ == "__main__":
    run_cli(main, Settings)
