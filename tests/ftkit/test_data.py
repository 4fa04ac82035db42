"""Tests of ftkit.data: every source and shape (chat, ShareGPT, column-mapped, Hub) reads into the same checked
samples, and each problem names where it is (file:line, or data set[split]:row); byte-order marks and JSON Lines
under any name; the rehearsal mix. No network: the Hub is replaced by a local `datasets` object or a stand-in
loader."""

import dataclasses
import json

import pytest
from conftest import TINY_RECORDS, build_tokenizer, write_jsonl

import ftkit.data
import v1_000_lora_finetune as finetune
from ftkit.data import Sample, data_files, is_hub_dataset_id, load_checked_records, load_samples, mix_in
from ftkit.errors import KitError

SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}


def as_sharegpt(record: dict) -> dict:
    return {"id": 7, "conversations": [{"from": SHAREGPT_ROLES[m["role"]], "value": m["content"]}
                                       for m in record["messages"]]}


def as_columns(record: dict) -> dict:
    """A data set whose chat column has another name, beside a column the kit ignores."""
    return {"dialogue": record["messages"], "source": "news"}


def without_where(samples):
    return [dataclasses.replace(sample, where="") for sample in samples]


def test_sharegpt_and_column_mapped_files_load_into_the_samples_of_the_chat_file(tmp_path):
    chat = load_samples(write_jsonl(tmp_path / "chat.jsonl", TINY_RECORDS))
    sharegpt = load_samples(write_jsonl(tmp_path / "sharegpt.jsonl", [as_sharegpt(r) for r in TINY_RECORDS]))
    mapped = load_samples(write_jsonl(tmp_path / "mapped.jsonl", [as_columns(r) for r in TINY_RECORDS]),
                          column_map={"messages": "dialogue"})
    assert without_where(sharegpt) == without_where(chat) == without_where(mapped)
    assert [s.schema for s in sharegpt] == ["chat"] * 4
    assert [s.where for s in sharegpt] == [f"{tmp_path / 'sharegpt.jsonl'}:{line}" for line in range(1, 5)]


def test_a_sharegpt_json_array_names_the_line_of_each_record(tmp_path):
    path = tmp_path / "sharegpt.json"
    records = [as_sharegpt(TINY_RECORDS[0]), {"conversations": [{"from": "human", "value": "質問"}]}]
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    starts = [number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line == " {"]
    second_line = starts[1]
    with pytest.raises(KitError, match=rf"sharegpt.json:{second_line}: chat record has no assistant turn"):
        load_samples(path)


@pytest.mark.parametrize("turns, message", [
    ([{"from": "human", "value": "hi"}, {"from": "alien", "value": "hello"}],
     ":2: conversations[1].from is 'alien', expected one of human, gpt, system"),
    ([{"from": "human", "value": "hi"}, {"from": "gpt"}],
     ":2: conversations[1] must be an object with 'from' and 'value'"),
    ([{"from": "human", "value": "hi"}, {"from": "gpt", "value": 3}],
     ":2: conversations[1].value must be a string"),
    ([], ":2: field 'conversations' must be a non-empty list"),
])
def test_a_bad_sharegpt_record_names_its_line_and_turn(tmp_path, turns, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [as_sharegpt(TINY_RECORDS[0]), {"conversations": turns}])
    with pytest.raises(KitError) as raised:
        load_samples(path)
    assert str(raised.value).startswith(f"{path}{message}")


def test_local_files_stay_strict_unless_mapped(tmp_path):
    # Loose shapes (role names of other data sets, TRL's message-list prompt/completion) only when the caller
    # maps columns or reads the Hub: a local file in the kit's own shapes reads exactly as it always has.
    loose = {"messages": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}
    path = write_jsonl(tmp_path / "loose.jsonl", [loose])
    with pytest.raises(KitError, match=r"loose.jsonl:1: messages\[0\] must be an object with 'role' and 'content'"):
        load_samples(path)
    [sample] = load_samples(path, column_map={"messages": "messages"})
    assert sample.messages == [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    unmapped = r"loose.jsonl:1: COLUMN_MAP names chat, but the data set's columns are messages$"
    with pytest.raises(KitError, match=unmapped):
        load_samples(path, column_map={"messages": "chat"})


def test_the_rewriting_reader_keeps_each_record_as_read(tmp_path):
    records = [as_sharegpt(r) for r in TINY_RECORDS]
    pairs = load_checked_records(write_jsonl(tmp_path / "sharegpt.jsonl", records))
    assert [record for record, _ in pairs] == records
    assert pairs[0][1].messages[-1] == TINY_RECORDS[0]["messages"][-1]


@pytest.fixture
def hub(monkeypatch):
    """A Hub that answers from memory: {("owner/name", split): rows}; `requests` lists what was asked for."""
    splits, requests = {}, []

    def load_hub_rows(dataset_id, split, config=None):
        requests.append((dataset_id, split, config))
        if (dataset_id, split) not in splits:
            raise KitError(f"could not load split '{split}' of '{dataset_id}' (no such split)")
        return splits[dataset_id, split]

    monkeypatch.setattr(ftkit.data, "load_hub_rows", load_hub_rows)
    return splits, requests


def test_a_hub_data_set_loads_like_the_local_file_and_names_its_rows(hub, tmp_path):
    splits, requests = hub
    splits["someone/persons", "train"] = [as_sharegpt(r) for r in TINY_RECORDS]
    splits["someone/persons", "test"] = [TINY_RECORDS[0], {"title": "x"}]
    local = load_samples(write_jsonl(tmp_path / "chat.jsonl", TINY_RECORDS))

    from_hub = load_samples("someone/persons")
    assert without_where(from_hub) == without_where(local)
    assert [s.where for s in from_hub] == [f"someone/persons[train]:{row}" for row in range(4)]
    with pytest.raises(KitError, match=r"^someone/persons\[test\]:1: record matches no schema \(keys: title\)"):
        load_samples("someone/persons[test]")  # the split in the name, as every script's data setting can give it
    with pytest.raises(KitError, match=r"^someone/persons\[test\]:1: record matches no schema"):
        load_samples("someone/persons", split="test", config="default")
    assert requests[-1] == ("someone/persons", "test", "default")


def test_hub_rows_are_read_through_datasets_after_one_check(monkeypatch):
    datasets = pytest.importorskip("datasets")
    import huggingface_hub

    rows = datasets.Dataset.from_list([{"question": "質問", "answer": "答え"}, {"question": "Q", "answer": "A"}])
    asked = []
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", lambda self, dataset_id: asked.append(dataset_id))
    monkeypatch.setattr(datasets, "load_dataset", lambda dataset_id, config, split: asked.append(split) or rows)
    samples = load_samples("someone/qa", split="validation", column_map={"prompt": "question", "completion": "answer"})
    assert asked == ["someone/qa", "validation"]
    assert [(s.where, s.schema, s.prompt, s.completion) for s in samples] == [
        ("someone/qa[validation]:0", "prompt_completion", "質問", "答え"),
        ("someone/qa[validation]:1", "prompt_completion", "Q", "A")]


def test_an_unreachable_hub_is_one_line(monkeypatch):
    import huggingface_hub

    def offline(self, dataset_id):
        raise ConnectionError("Failed to resolve 'huggingface.co'\nand more lines")

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", offline)
    with pytest.raises(KitError) as raised:
        load_samples("someone/no-such-data")
    assert str(raised.value) == ("could not reach the data set 'someone/no-such-data' on the Hugging Face Hub "
                                 "(Failed to resolve 'huggingface.co'); no network or a typo? "
                                 "Or give a local .jsonl file")


def test_only_names_that_are_not_local_paths_go_to_the_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert is_hub_dataset_id("owner/name") and is_hub_dataset_id("owner/name[test]")
    assert not is_hub_dataset_id("data/train")  # a folder 'data' is here: a missing local file, not a Hub id
    assert not is_hub_dataset_id("owner/train.jsonl") and not is_hub_dataset_id(str(tmp_path / "x"))
    with pytest.raises(KitError, match=r"^data file not found: data/train$"):
        load_samples("data/train")


def test_data_files_writes_what_it_checked_and_names_the_source_on_a_problem(hub, tmp_path):
    splits, _ = hub
    splits["someone/persons", "train"] = [as_sharegpt(r) for r in TINY_RECORDS]
    splits["someone/persons", "validation"] = [TINY_RECORDS[1]]
    train, validation = data_files("someone/persons", "validation", {}, tmp_path / "data")
    assert (train, validation) == (tmp_path / "data" / "train.jsonl", tmp_path / "data" / "validation.jsonl")
    assert without_where(load_samples(train)) == without_where(load_samples(write_jsonl(tmp_path / "c.jsonl",
                                                                                        TINY_RECORDS)))
    assert len(load_samples(validation)) == 1

    splits["someone/broken", "train"] = [TINY_RECORDS[0], {"messages": []}]
    with pytest.raises(KitError, match=r"^someone/broken\[train\]:1: field 'messages' must be a non-empty list"):
        data_files("someone/broken", "", {}, tmp_path / "broken")
    assert not (tmp_path / "broken").exists()


def test_the_training_script_prepares_a_sharegpt_file_like_the_chat_file(tmp_path):
    import v1_000_lora_finetune as finetune
    from ftkit.formatting import ensure_chat_template

    tokenizer = build_tokenizer()
    ensure_chat_template(tokenizer, log=lambda *_: None)
    chat = write_jsonl(tmp_path / "chat.jsonl", TINY_RECORDS * 2)
    sharegpt = write_jsonl(tmp_path / "sharegpt.jsonl", [as_sharegpt(r) for r in TINY_RECORDS * 2])
    prepared = [finetune.prepare_data(finetune.Settings(train_file=str(path), validation_file=str(path)), tokenizer)
                for path in (chat, sharegpt)]
    assert prepared[1].train_samples == prepared[0].train_samples == 8
    assert prepared[1].train_batches == prepared[0].train_batches
    assert prepared[1].validation_batches == prepared[0].validation_batches


@pytest.mark.parametrize("content, message", [
    ("", "data file is empty"),
    ('{"messages": []}\n', "bad.jsonl:1: field 'messages' must be a non-empty list"),
    ('{"text": "a"}\n{"question": "q", "answer": "a"}\n',
     "bad.jsonl:2: record matches no schema (keys: answer, question)"),
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


def test_rehearsal_makes_up_the_requested_share_of_the_mix():
    task = [Sample(f"task:{i}", "text", text=f"t{i}") for i in range(400)]
    general = [Sample(f"general:{i}", "text", text=f"g{i}") for i in range(60)]
    mixed = mix_in(task, general, 0.2, seed=1)
    from_general = [s for s in mixed if s.where.startswith("general")]
    assert len(from_general) / len(mixed) == pytest.approx(0.2)
    assert len(from_general) == 100 and len(set(s.where for s in from_general)) == 60  # repeated when short
    assert mixed[:400] == task
    assert mix_in(task, general, 0.2, seed=1) == mixed and mix_in(task, general, 0.2, seed=2) != mixed
    assert mix_in(task, general, 0.0, seed=1) == task
    with pytest.raises(KitError, match="below 1"):
        mix_in(task, general, 1.0, seed=1)


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in TINY_RECORDS).encode())
    assert len(load_samples(path)) == len(TINY_RECORDS)
    array = tmp_path / "bom.json"
    array.write_bytes(b"\xef\xbb\xbf" + json.dumps(TINY_RECORDS, ensure_ascii=False).encode())
    assert len(load_samples(array)) == len(TINY_RECORDS)
    config = tmp_path / "run.yml"
    config.write_bytes(b"\xef\xbb\xbflora_r: 8\n")
    from ftkit.settings import parse_settings

    assert parse_settings(finetune.Settings, ["--config", str(config)]).lora_r == 8


def test_jsonl_whose_first_line_is_a_list_is_read_as_jsonl(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps([TINY_RECORDS[0]], ensure_ascii=False) + "\n"
                    + json.dumps(TINY_RECORDS[1], ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(KitError, match=r"train.jsonl:1: a record must be a JSON object, found list"):
        load_samples(path)
    as_json = tmp_path / "lines.json"  # JSON Lines under a .json name
    as_json.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in TINY_RECORDS), encoding="utf-8")
    assert len(load_samples(as_json)) == len(TINY_RECORDS)
