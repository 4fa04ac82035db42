"""Build the general conversation data for rehearsal and for measuring forgetting, from chatterbot-corpus.

Run:
    python src/v1_000_make_general_data.py            # writes the two files below (seeded, reproducible)

Reads the Japanese and English conversation sets of the `chatterbot-corpus` package (BSD-3-Clause,
https://github.com/gunthercox/chatterbot-corpus), turns each conversation into a chat record (turns alternate
user / assistant; a trailing user turn is dropped), removes duplicates, and writes:
  tmp_docker/dataset/general_rehearsal.jsonl   mixed into fine-tuning by v1_000_lora_lwf_finetune.py
  tmp_docker/dataset/general_heldout.jsonl     never trained on: the model's perplexity here measures forgetting
Each record keeps its origin in "source" (language/topic).
"""

import json
import random
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from ftkit import DEFAULT_DATASET_DIR
from ftkit.cli import run_cli
from ftkit.errors import KitError
from ftkit.files import write_jsonl
from ftkit.text_tables import comma_list


@dataclass
class Settings:
    out_dir: str = field(default=str(DEFAULT_DATASET_DIR), metadata={"help": "folder that receives the two files"})
    languages: str = field(default="japanese,english", metadata={"help": "chatterbot-corpus languages to use"})
    heldout_per_language: int = field(default=100, metadata={"help": "conversations per language kept out of training"})
    seed: int = field(default=0, metadata={"help": "seed of the split"})


def corpus_conversations(language: str) -> list[dict]:
    """Chat records of one language of chatterbot-corpus, in file order."""
    import yaml

    try:
        folder = files("chatterbot_corpus") / "data" / language
    except ModuleNotFoundError:
        raise KitError("chatterbot-corpus is not installed: pip install chatterbot-corpus") from None
    if not folder.is_dir():
        raise KitError(f"chatterbot-corpus has no language '{language}'")
    records = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".yml"):
            continue
        for turns in yaml.safe_load(path.read_text(encoding="utf-8")).get("conversations", []):
            turns = [str(turn).strip() for turn in turns if str(turn).strip()]
            turns = turns[: len(turns) // 2 * 2]  # end on an assistant turn
            if not turns:
                continue
            roles = ["user", "assistant"] * (len(turns) // 2)
            records.append({"messages": [{"role": r, "content": t} for r, t in zip(roles, turns)],
                            "source": f"chatterbot-corpus/{language}/{path.stem}"})
    return records


def main(settings: Settings):
    rng = random.Random(settings.seed)
    rehearsal, heldout = [], []
    for language in comma_list(settings.languages):
        unique = {json.dumps(r["messages"], ensure_ascii=False): r for r in corpus_conversations(language)}
        records = list(unique.values())
        rng.shuffle(records)
        heldout += records[: settings.heldout_per_language]
        rehearsal += records[settings.heldout_per_language :]
    out_dir = Path(settings.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, records in (("general_rehearsal.jsonl", rehearsal), ("general_heldout.jsonl", heldout)):
        write_jsonl(out_dir / name, records, keep_mode=True)  # bundled data, readable by every account
        print(f"[data] {len(records)} conversations -> {out_dir / name}")
    return out_dir


if __name__ == "__main__":
    run_cli(main, Settings)
