"""The bundled dataset: made by the seeded generator, well-formed, and kept apart from the realistic test set."""

import collections
import errno
import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from conftest import REPO_ROOT

from ftkit import DEFAULT_DATASET_DIR
from ftkit.data import load_samples
from ftkit.extraction_metrics import parse_json, schema_ok
from ftkit.task import EXTRACTION_SYSTEM_PROMPT
from ftkit.errors import user_errors_as_exit_codes

GENERATOR = REPO_ROOT / "src" / "v1_000_make_dataset.py"


def user_texts(path):
    return [sample.messages[1]["content"] for sample in load_samples(path)]


def test_committed_files_are_exactly_what_the_generator_writes(tmp_path):
    subprocess.run([sys.executable, str(GENERATOR), "--out-dir", str(tmp_path)], check=True, capture_output=True,
                   timeout=300)
    for name in ("train.jsonl", "validation.jsonl"):
        assert (tmp_path / name).read_bytes() == (DEFAULT_DATASET_DIR / name).read_bytes(), name


def test_a_different_seed_gives_different_data(tmp_path):
    # the underscore spelling of the flags; the test above uses the hyphenated one of the README
    subprocess.run([sys.executable, str(GENERATOR), "--out_dir", str(tmp_path), "--seed", "7", "--train_size", "50",
                    "--validation_size", "10"], check=True, capture_output=True, timeout=300)
    assert user_texts(tmp_path / "train.jsonl")[:10] != user_texts(DEFAULT_DATASET_DIR / "train.jsonl")[:10]


# Shares in a 1000-record sample (shapes: of the records with a person). Seeded samples give about lone
# surname 16%, stage name 7%, list 7%, katakana alone 6%, deep 6%, any of them 40% (HARD_SHARE, exact),
# 28% negatives, 34-37% of persons with an address and 73 characters a text; the ranges leave room for changes.
SHAPE_SHARE_RANGES = {"shape:lone_surname": (0.10, 0.25), "shape:stage_name": (0.04, 0.12), "shape:list": (0.04, 0.12),
                      "shape:kata_alone": (0.03, 0.12), "shape:deep": (0.04, 0.12), "shape:any": (0.35, 0.45),
                      "negative": (0.27, 0.29), "address_per_person": (0.30, 0.45), "mean_chars": (55, 85)}


def test_hard_shapes_are_common_and_addresses_come_at_every_level():
    import v1_000_make_dataset as gen

    records, tags = gen.make_split(0, 1000, exclude=set())
    stats = gen.shape_stats(records, tags)
    outside = {key: round(stats[key], 3) for key, (lo, hi) in SHAPE_SHARE_RANGES.items() if not lo <= stats[key] <= hi}
    assert outside == {}
    levels = {level: tags["addr:" + level] for level in ("pref", "city", "town", "street")}
    assert {level: count for level, count in levels.items() if count < 20} == {}
    assert tags["nores:birthplace"] >= 20 and tags["nores:workplace"] >= 5 and tags["nores:event_place"] >= 20


def test_large_sizes_give_distinct_texts_quickly():
    import time

    import v1_000_make_dataset as gen

    start = time.perf_counter()
    records, _ = gen.make_split(5, 2000, exclude=set())
    assert time.perf_counter() - start < 60
    assert len({r["messages"][1]["content"] for r in records}) == 2000


def test_a_name_missing_from_its_text_is_refused(monkeypatch):
    import v1_000_make_dataset as gen

    def broken_scene(draft, wanted):
        draft.add_person("山田太郎", "山田太郎さん")
        return ["山田さんが来た。"], []

    monkeypatch.setattr(gen, "PLAIN_SCENES", (gen.PlainScene(broken_scene, 1),))
    with pytest.raises(gen.GuidelineError, match="山田太郎") as refused:
        gen.make_record(gen.RandomDraws(0), negative=False)
    assert isinstance(refused.value, ValueError)  # what the generator raised before, for callers that catch it


def without_names(template):
    return template.replace("{N}", "")


def test_a_guideline_violation_is_one_line_and_exit_status_2_even_under_python_O(tmp_path):
    # Templates that drop the name make answers that quote nothing: the check must hold with asserts switched off.
    words = yaml.safe_load((DEFAULT_DATASET_DIR / "vocabulary_ja.yml").read_text(encoding="utf-8"))
    for key in ("residence_shapes", "shapes_without_residence", "foreign_resident_shapes",
                "suspect_without_home_shapes"):
        words[key] = [[tag, without_names(template)] for tag, template in words[key]]
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(words, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-O", str(GENERATOR), "--vocabulary_file", str(broken),
                             "--out_dir", str(out), "--train_size", "50", "--validation_size", "10"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "is not in the text" in errors[0], result.stderr
    assert not (out / "train.jsonl").exists()


def test_sizes_out_of_range_are_one_line_errors(tmp_path, capsys):
    import v1_000_make_dataset as gen

    with pytest.raises(SystemExit) as stopped, user_errors_as_exit_codes():
        gen.main(gen.Settings(train_size=0, out_dir=str(tmp_path)))
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "error: --train_size is 0, expected a whole number of at least 1\n"


class FailingHalfway:
    """A file handle that writes half of what it is given, then finds the disk full."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, text):
        self.handle.write(text[: len(text) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def __getattr__(self, name):
        return getattr(self.handle, name)


def test_an_interrupted_write_leaves_the_previous_files_whole(tmp_path, monkeypatch, capsys):
    import v1_000_make_dataset as gen

    before = {name: f"{name} of an earlier run\n".encode() for name in ("train.jsonl", "validation.jsonl")}
    for name, content in before.items():
        (tmp_path / name).write_bytes(content)
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *args, **kwargs: FailingHalfway(real_fdopen(*args, **kwargs)))
    with pytest.raises(SystemExit) as stopped, user_errors_as_exit_codes():
        gen.main(gen.Settings(train_size=30, validation_size=5, out_dir=str(tmp_path)))
    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert message.startswith("error: could not write the dataset folder") and "No space left" in message
    assert message.count("\n") == 1
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before  # and no temporary file left


def test_the_written_files_keep_the_mode_a_plain_write_gives(tmp_path):
    import v1_000_make_dataset as gen

    (tmp_path / "train.jsonl").write_text("old\n", encoding="utf-8")
    (tmp_path / "train.jsonl").chmod(0o640)
    gen.main(gen.Settings(train_size=20, validation_size=3, out_dir=str(tmp_path)))
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "train.jsonl").stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode
    assert (tmp_path / "validation.jsonl").stat().st_mode & 0o777 == 0o666 & ~umask  # a new one gets the umask's


def test_the_vocabulary_is_read_without_running_anything_in_it(tmp_path):
    import v1_000_make_dataset as gen

    marker = tmp_path / "ran"
    hostile = tmp_path / "hostile.yml"
    hostile.write_text(f"parties: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8")
    with pytest.raises(gen.KitError, match="hostile.yml:1: not a vocabulary file"):
        gen.read_vocabulary(hostile, DEFAULT_DATASET_DIR / "names_ja.tsv")
    assert not marker.exists()


def test_a_vocabulary_without_an_entry_is_a_one_line_error_naming_it(tmp_path):
    import v1_000_make_dataset as gen

    words = yaml.safe_load((DEFAULT_DATASET_DIR / "vocabulary_ja.yml").read_text(encoding="utf-8"))
    del words["countries"]
    partial = tmp_path / "partial.yml"
    partial.write_text(yaml.safe_dump(words, allow_unicode=True), encoding="utf-8")
    with pytest.raises(gen.KitError, match="partial.yml: no 'countries' entry"):
        gen.read_vocabulary(partial, DEFAULT_DATASET_DIR / "names_ja.tsv")


def test_the_usage_line_of_the_docstring_gives_the_defaults_of_the_settings():
    import v1_000_make_dataset as gen

    usage = next(line for line in gen.__doc__.splitlines() if "python src/v1_000_make_dataset.py" in line)
    documented = dict(re.findall(r"\[--(\w+) (\d+)\]", usage))
    assert documented == {"train_size": "1500", "validation_size": "120", "seed": "0"}
    assert {name: str(getattr(gen.Settings, name)) for name in documented} == documented
    assert "default DIR: tmp_docker/dataset" in gen.__doc__ and gen.Settings.out_dir == str(DEFAULT_DATASET_DIR)


def test_names_file_is_what_the_converter_writes(tmp_path):
    pytest.importorskip("japanese_personal_name_dataset")
    out = tmp_path / "names_ja.tsv"
    subprocess.run([sys.executable, str(REPO_ROOT / "src" / "v1_000_make_names.py"), "--out", str(out)], check=True,
                   capture_output=True, timeout=300)
    assert out.read_bytes() == (DEFAULT_DATASET_DIR / "names_ja.tsv").read_bytes()
    assert "MIT License" in (DEFAULT_DATASET_DIR / "NAMES_NOTICE.md").read_text(encoding="utf-8")


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


@pytest.mark.parametrize("name", ["realistic_test.jsonl", "realistic_test_hard.jsonl"])
def test_realistic_test_set_is_large_enough_and_never_in_training(name):
    realistic = user_texts(DEFAULT_DATASET_DIR / name)
    assert len(realistic) >= 150
    training = "\n".join(user_texts(DEFAULT_DATASET_DIR / "train.jsonl"))
    sentences = [s for text in realistic for s in re.split(r"(?<=。)", text) if len(s) >= 12]
    leaked = [s for s in sentences if s in training]
    assert not leaked, leaked[:3]


HARD_SHAPES = ("surname_only", "ring_or_stage_name", "person_list", "katakana_alone", "long_sentence", "no_person")


def test_hard_realistic_test_set_quotes_its_text_and_covers_every_shape():
    path = DEFAULT_DATASET_DIR / "realistic_test_hard.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(records) >= 150
    tags = collections.Counter(tag for record in records for tag in record["tags"])
    assert {shape: tags[shape] for shape in HARD_SHAPES if tags[shape] < 15} == {}
    easy = set(user_texts(DEFAULT_DATASET_DIR / "realistic_test.jsonl"))
    for sample, record in zip(load_samples(path), records):
        system, text, answer = (message["content"] for message in sample.messages)
        assert system == EXTRACTION_SYSTEM_PROMPT, sample.where
        assert text not in easy, sample.where
        answer = parse_json(answer)
        assert schema_ok(answer), sample.where
        assert bool(answer["persons"]) != ("no_person" in record["tags"]), sample.where
        for person in answer["persons"]:
            assert person["name"] in text, sample.where
            assert person.get("address", "") in text, sample.where
