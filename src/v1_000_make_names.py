"""Convert the Japanese names the dataset generator uses from japanese-personal-name-dataset 0.4.0 (MIT).

The package lists 1,999 surnames with readings and estimated population, and for each given-name reading
every kanji spelling known (up to a few hundred, most of them rare). This script keeps, for the package's
"popular" readings (its `opti` subset), the few spellings whose characters are most often read that way across
the whole package, so that 大輝 is kept for だいき and 亜喜央 is dropped for あきお; single-kanji names (誠, 葵)
come from a short list below, each kept only where the package lists that spelling for that reading. The result
is tmp_docker/dataset/names_ja.tsv, read by src/v1_000_make_dataset.py; source and licence are stated in
tmp_docker/dataset/NAMES_NOTICE.md.

Run from the repository root (needs `pip install japanese-personal-name-dataset==0.4.0`; the generator itself
does not):
    python src/v1_000_make_names.py [--out tmp_docker/dataset/names_ja.tsv]
"""
from __future__ import annotations

import importlib.util
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from ftkit import DEFAULT_DATASET_DIR
from ftkit.cli import run_cli
from ftkit.errors import KitError
from ftkit.files import write_text_atomic


@dataclass
class Settings:
    out: str = field(default=str(DEFAULT_DATASET_DIR / "names_ja.tsv"), metadata={"help": "TSV to write"})

# Single-kanji surnames that read as ordinary words alone (中, 今, 前, 高, 新 ...) are left out; these are kept.
ONE_KANJI_SURNAMES = set("林森原関辻堀岡星堤泉岸菅畑橘柳牧秦楠滝湊浦梶榊椿塙桂柴佃脇磯巽峯嶋榎迫柏杉峰澤舘")
# Common single-kanji given names (reading, spelling); each is checked against the package before it is kept.
ONE_KANJI_GIVEN = {
    "m": "誠:まこと 実:みのる 茂:しげる 進:すすむ 学:まなぶ 豊:ゆたか 翼:つばさ 光:ひかる 衛:まもる 勝:まさる 亨:とおる 勲:いさお "
         "保:たもつ 武:たけし 剛:つよし 聡:さとし 翔:しょう 蓮:れん 湊:みなと 陸:りく 匠:たくみ 司:つかさ 渉:わたる 昇:のぼる "
         "肇:はじめ 純:じゅん 樹:いつき 岳:がく 航:わたる 優:ゆう 巧:たくみ 清:きよし 浩:ひろし 博:ひろし 修:おさむ 徹:とおる "
         "晃:あきら 彰:あきら 治:おさむ 稔:みのる 譲:ゆずる 寛:ひろし 功:いさお 陽:ひなた",
    "f": "恵:めぐみ 薫:かおる 舞:まい 望:のぞみ 愛:あい 葵:あおい 凛:りん 楓:かえで 梓:あずさ 遥:はるか 茜:あかね 光:ひかり "
         "響:ひびき 椿:つばき 栞:しおり 桜:さくら 萌:もえ 泉:いずみ 忍:しのぶ 静:しずか 環:たまき 瞳:ひとみ 都:みやこ 結:ゆい "
         "紬:つむぎ 澪:みお 雫:しずく 彩:あや 碧:あおい 唯:ゆい 純:じゅん 司:つかさ",
}
PER_READING, MIN_SCORE = 3, 8.0


def splits(reading, parts):
    """Every way to cut a reading into `parts` non-empty pieces, one per character."""
    for cuts in combinations(range(1, len(reading)), parts - 1):
        bounds = (0, *cuts, len(reading))
        yield [reading[bounds[i]:bounds[i + 1]] for i in range(parts)]


def char_readings(dicts, rounds=2):
    """How often each character is read as each piece of kana, over all spellings of all readings (soft EM)."""
    pair = Counter()
    for _ in range(rounds):
        new = Counter()
        total = Counter()
        for (c, _p), v in pair.items():
            total[c] += v
        for names in dicts:
            for reading, entry in names.items():
                for spelling in entry["kanji"]:
                    cuts = list(splits(reading, len(spelling))) if len(spelling) <= len(reading) else []
                    if not cuts:
                        continue
                    weights = [1.0] * len(cuts)
                    if pair:
                        for i, pieces in enumerate(cuts):
                            for c, p in zip(spelling, pieces):
                                weights[i] *= pair[c, p] / total[c]
                    norm = sum(weights) or 1.0
                    for w, pieces in zip(weights, cuts):
                        for c, p in zip(spelling, pieces):
                            new[c, p] += w / norm
        pair = new
    return pair


def score(spelling, reading, pair):
    """Geometric mean of how common each character's share of the reading is; long spellings cost a little."""
    best = 0.0
    for pieces in splits(reading, len(spelling)) if 1 < len(spelling) <= len(reading) else []:
        product = 1.0
        for c, p in zip(spelling, pieces):
            product *= pair[c, p]
        best = max(best, product ** (1 / len(spelling)) * 0.45 ** max(0, len(spelling) - 2))
    return best


def main(settings: Settings) -> Path:
    if not importlib.util.find_spec("japanese_personal_name_dataset"):
        raise KitError("this converter needs its source: pip install japanese-personal-name-dataset==0.4.0")
    from japanese_personal_name_dataset import load_dataset  # only this converter needs the package

    men, women, surnames = load_dataset("org", include_last_names=True)
    popular = dict(zip("mf", load_dataset("opti")))
    pair = char_readings([men, women])
    rows = ["# kind\twritten\treading\tweight  (converted by src/v1_000_make_names.py from "
            "japanese-personal-name-dataset 0.4.0, MIT; see NAMES_NOTICE.md)"]
    for sur, entry in sorted(surnames.items(), key=lambda kv: (-kv[1]["count"], kv[0])):
        if len(sur) > 1 or sur in ONE_KANJI_SURNAMES:
            rows.append(f"sur\t{sur}\t{entry['reading']}\t{entry['count']}")
    for kind, full in (("m", men), ("f", women)):
        kept = set()
        for reading in sorted(popular[kind]):
            ranked = sorted(popular[kind][reading]["kanji"], key=lambda s: (-score(s, reading, pair), s))
            top = score(ranked[0], reading, pair) if ranked else 0.0
            if top < MIN_SCORE:
                continue
            for spelling in ranked[:PER_READING]:
                if score(spelling, reading, pair) >= 0.4 * top:
                    kept.add((spelling, reading))
        for item in ONE_KANJI_GIVEN[kind].split():
            spelling, reading = item.split(":")
            if reading in full and spelling in full[reading]["kanji"]:
                kept.add((spelling, reading))
        rows += [f"{kind}\t{s}\t{r}\t1" for s, r in sorted(kept, key=lambda sr: (sr[1], sr[0]))]
    out = Path(settings.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "\n".join(rows) + "\n", keep_mode=True)  # bundled data, readable by every account
    counts = Counter(row.split("\t")[0] for row in rows[1:])
    print(f"wrote {out}: {counts['sur']} surnames, {counts['m']} male and {counts['f']} female given names")
    return out


if __name__ == "__main__":
    run_cli(main, Settings)
