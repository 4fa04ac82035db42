"""Read training data (a local JSONL / JSON file or a Hugging Face Hub data set) and check every record, naming
where it is (file and line, or data set, split and row) on any problem.

Five schemas are accepted, detected per record, as in TRL and Axolotl:
  chat                {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
  ShareGPT            {"conversations": [{"from": "system"|"human"|"gpt", "value": "..."}, ...]}
  instruction         {"instruction": "...", "input": "...", "output": "..."}   (Alpaca style; input optional)
  prompt/completion   {"prompt": "...", "completion": "..."}
  text                {"text": "..."}                                            (plain language modelling)
ShareGPT and instruction records become chat records, so they are formatted with the chat template like chat
records. Other keys in a record (ids, tags) are ignored.

Files are UTF-8 (a leading byte-order mark is accepted); a file in another encoding is a one-line error naming
the line of the first byte that is not UTF-8. A `.jsonl` file is always one record per line (a line holding a
JSON list is an error on that line); a `.json` file is a JSON array, or JSON Lines when it holds objects one
per line.

A Hub data set is named "owner/name" (its "train" split) or "owner/name[split]"; its rows are numbered as
`datasets` numbers them, from 0. Hub rows, and the rows of a file read with a column map (the data set's column
for each field of the kit's shapes), are taken more loosely, as data sets publish them: messages with from/value
or other role names, and a prompt/completion pair of message lists (TRL's conversational format), are accepted.
Only a Hub source touches the network, and `datasets` is imported only then.
"""

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import KitError, first_line
from .files import write_jsonl

CHAT_ROLES = ("system", "user", "assistant")
# Role names data sets use, as the kit's: ShareGPT's human/gpt, and the other names seen on the Hub.
ROLE_NAMES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "model": "assistant",
              "bot": "assistant", "system": "system"}
HUB_DATASET = re.compile(r"^(?P<dataset>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:\[(?P<split>[\w.-]+)\])?$")


@dataclass
class Sample:
    where: str  # "file:line", for messages about this sample
    schema: str  # "chat" | "prompt_completion" | "text"
    messages: list | None = None
    prompt: str | None = None
    completion: str | None = None
    text: str | None = None
    kind: str = ""  # "" unless a recipe marks it: "task" or "rehearsal" (LwF's KL can act on one kind only)


def load_samples(source: str | Path, split: str = "train", column_map: dict | None = None,
                 config: str | None = None) -> list[Sample]:
    """All records of a data source, checked: a .jsonl (one JSON object per line) or .json (an array of objects)
    file, or a Hub data set "owner/name" (its `split`, and `config` for data sets that have several) or
    "owner/name[split]".

    `column_map` names the source's column for each kit field, such as {"prompt": "question", "completion":
    "answer"}; without it the kit's own names are used.
    """
    return [sample for _, sample in load_checked_records(source, split, column_map, config)]


def load_checked_records(source: str | Path, split: str = "train", column_map: dict | None = None,
                         config: str | None = None) -> list[tuple[dict, Sample]]:
    """(record as read, checked sample) pairs: for tools that rewrite data files record by record."""
    hub = is_hub_dataset_id(str(source))
    rows = hub_rows(str(source), split, config) if hub else file_rows(source)
    # Generators: the first problem in file order is the one reported, be it malformed JSON or a bad record.
    loose = hub or bool(column_map)
    return [(row, sample_from_record(mapped_record(row, column_map, where) if loose else row, where))
            for where, row in rows]


def file_rows(path: str | Path):
    """Yield ("file:line", parsed object) for a local file; a missing or empty file is a KitError."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"data file not found: {path}")
    raw = read_text_file(path)
    if not raw.strip():
        raise KitError(f"data file is empty: {path}")
    for line, record in read_records(path, raw):
        yield f"{path}:{line}", record


def hub_rows(source: str, split: str = "train", config: str | None = None):
    """Yield ("owner/name[split]:row", row) for one split of a Hub data set ("owner/name[split]" names its own)."""
    match = HUB_DATASET.match(source)
    dataset_id, split = match["dataset"], match["split"] or split
    rows = load_hub_rows(dataset_id, split, config)
    if not rows:
        raise KitError(f"{dataset_id}[{split}]: no records")
    for index, row in enumerate(rows):
        yield f"{dataset_id}[{split}]:{index}", row


def is_hub_dataset_id(value: str) -> bool:
    """"owner/name" or "owner/name[split]" that is not a path on this machine (neither it nor a folder 'owner'
    exists here) nor a data file name; a model id is base_model.is_hub_id."""
    match = HUB_DATASET.match(str(value))
    return (bool(match) and not Path(value).exists() and not Path(match["dataset"]).parent.exists()
            and not match["dataset"].endswith((".json", ".jsonl")))


def load_hub_rows(dataset_id: str, split: str, config: str | None = None) -> list[dict]:
    """Rows of one split of a Hub data set, or a one-line KitError (checked first with one quick request,
    because `datasets` retries an unreachable Hub for half a minute)."""
    from huggingface_hub import HfApi

    try:
        HfApi().dataset_info(dataset_id)
    except Exception as error:
        raise KitError(f"could not reach the data set '{dataset_id}' on the Hugging Face Hub ({first_line(error)}); "
                       "no network or a typo? Or give a local .jsonl file") from None
    import datasets

    try:
        return list(datasets.load_dataset(dataset_id, config, split=split))
    except Exception as error:
        raise KitError(f"could not load split '{split}' of '{dataset_id}' ({first_line(error)})") from None


def mapped_record(row, column_map: dict | None = None, where: str = ""):
    """A row of a data set in one of the kit's shapes: its columns renamed by `column_map` (kit field: column),
    a conversational prompt/completion pair (lists of messages) as one conversation, and messages normalised to
    role/content. Anything else is left for `sample_from_record` to check."""
    if not isinstance(row, dict):
        return row
    if column_map:
        missing = [column for column in column_map.values() if column not in row]
        if missing:
            problem = f"COLUMN_MAP names {', '.join(missing)}, but the data set's columns are {', '.join(sorted(row))}"
            raise KitError(f"{where}: {problem}" if where else problem)
        record = {field: row[column] for field, column in column_map.items()}
    else:
        record = dict(row)
    if isinstance(record.get("prompt"), list) and isinstance(record.get("completion"), list):
        record = {"messages": record["prompt"] + record["completion"]}
    if isinstance(record.get("messages"), list):
        record["messages"] = [normalised_message(message) for message in record["messages"]]
    return record


def kit_record(row: dict, column_map: dict | None = None) -> dict:
    """`mapped_record`, with ShareGPT's 'conversations' also renamed to 'messages' (role/content)."""
    if not column_map and "messages" not in row and isinstance(row.get("conversations"), list):
        row = {("messages" if key == "conversations" else key): value for key, value in row.items()}
    return mapped_record(row, column_map)


def normalised_message(message):
    if not isinstance(message, dict):
        return message  # the kit's check names the record and the problem
    role = message.get("role", message.get("from"))
    return {"role": ROLE_NAMES.get(str(role).lower(), role), "content": message.get("content", message.get("value"))}


def read_text_file(path: str | Path) -> str:
    """A text file's content: UTF-8, with or without a byte-order mark. Another encoding is a one-line KitError
    naming the line (and column) of the first byte that is not UTF-8."""
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        hint = " (it looks like UTF-16)" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else ""
        raise KitError(f"{path}:{line}: not UTF-8 text{hint} (byte 0x{data[error.start]:02x} at byte {column} of the "
                       "line); save the file as UTF-8") from None


def is_json_array_file(path: Path, raw: str) -> bool:
    """Whether to read the file as one JSON document (an array) rather than as JSON Lines: never for .jsonl; for
    other names when the content starts with '['; for .json also otherwise, unless it is several JSON objects
    one per line (JSON Lines under a .json name, as many data sets ship)."""
    if path.suffix == ".jsonl":
        return False
    if raw.lstrip().startswith("["):
        return True
    if path.suffix != ".json":
        return False
    try:
        json.loads(raw)
    except json.JSONDecodeError as error:
        return not (error.msg == "Extra data" and raw.lstrip().startswith("{"))
    return True


def read_records(path: Path, raw: str):
    """Yield (line number, parsed object). A JSON array is numbered by the line where each element starts."""
    if is_json_array_file(path, raw):
        try:
            records = json.loads(raw)
        except json.JSONDecodeError as error:
            raise KitError(f"{path}:{error.lineno}: malformed JSON: {error.msg}") from None
        if not isinstance(records, list):
            raise KitError(f"{path}: a .json data file must hold an array of records, found {type(records).__name__}")
        lines = element_start_lines(raw, len(records))
        yield from zip(lines, records)
        return
    for line_number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield line_number, json.loads(line)
        except json.JSONDecodeError as error:
            raise KitError(f"{path}:{line_number}: malformed JSON line: {error.msg} (column {error.colno})") from None


def element_start_lines(raw: str, count: int) -> list[int]:
    """Line of each top-level array element, so that errors in .json files also name a line."""
    decoder = json.JSONDecoder()
    position = raw.index("[") + 1
    lines = []
    for _ in range(count):
        while raw[position] in " \t\r\n,":
            position += 1
        lines.append(raw.count("\n", 0, position) + 1)
        _, position = decoder.raw_decode(raw, position)
    return lines


def sample_from_record(record, where: str) -> Sample:
    if not isinstance(record, dict):
        raise KitError(f"{where}: a record must be a JSON object, found {type(record).__name__}")
    if "messages" in record:
        return Sample(where, "chat", messages=check_messages(record["messages"], where))
    if "conversations" in record:
        return Sample(where, "chat", messages=sharegpt_messages(record["conversations"], where))
    if "instruction" in record and "output" in record:
        user = string_field(record, "instruction", where)
        extra = record.get("input") or ""
        if not isinstance(extra, str):
            raise KitError(f"{where}: field 'input' must be a string")
        if extra.strip():
            user = f"{user}\n\n{extra}"
        messages = [{"role": "user", "content": user},
                    {"role": "assistant", "content": string_field(record, "output", where)}]
        return Sample(where, "chat", messages=messages)
    if "prompt" in record and "completion" in record:
        return Sample(where, "prompt_completion", prompt=string_field(record, "prompt", where),
                      completion=string_field(record, "completion", where))
    if "text" in record:
        return Sample(where, "text", text=string_field(record, "text", where))
    keys = ", ".join(sorted(record)) or "none"
    raise KitError(
        f"{where}: record matches no schema (keys: {keys}); expected 'messages', 'conversations' (ShareGPT), "
        f"'instruction'+'output', 'prompt'+'completion' or 'text'"
    )


def string_field(record: dict, key: str, where: str) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise KitError(f"{where}: field '{key}' must be a string, found {type(value).__name__}")
    return value


def check_messages(messages, where: str) -> list:
    if not isinstance(messages, list) or not messages:
        raise KitError(f"{where}: field 'messages' must be a non-empty list of {{role, content}} objects")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise KitError(f"{where}: messages[{index}] must be an object with 'role' and 'content'")
        if message["role"] not in CHAT_ROLES:
            raise KitError(f"{where}: messages[{index}].role is '{message['role']}', "
                           f"expected one of {', '.join(CHAT_ROLES)}")
        if not isinstance(message["content"], str):
            raise KitError(f"{where}: messages[{index}].content must be a string")
    if not any(message["role"] == "assistant" for message in messages):
        raise KitError(f"{where}: chat record has no assistant turn, so there is nothing to learn")
    return [{"role": message["role"], "content": message["content"]} for message in messages]


def sharegpt_messages(conversations, where: str) -> list:
    """ShareGPT turns ({"from": "human"|"gpt"|"system", "value": ...}; role/content is taken too) as chat messages,
    each problem named by its turn."""
    if not isinstance(conversations, list) or not conversations:
        raise KitError(f"{where}: field 'conversations' must be a non-empty list of {{from, value}} objects (ShareGPT)")
    messages = []
    for index, turn in enumerate(conversations):
        keys = ("from", "value") if isinstance(turn, dict) and "from" in turn else ("role", "content")
        if not isinstance(turn, dict) or not all(key in turn for key in keys):
            raise KitError(f"{where}: conversations[{index}] must be an object with 'from' and 'value' (ShareGPT)")
        speaker, text = turn[keys[0]], turn[keys[1]]
        role = ROLE_NAMES.get(speaker.lower()) if isinstance(speaker, str) else None
        if role is None:
            raise KitError(f"{where}: conversations[{index}].{keys[0]} is '{speaker}', expected one of human, gpt, "
                           "system (or user, assistant)")
        if not isinstance(text, str):
            raise KitError(f"{where}: conversations[{index}].{keys[1]} must be a string")
        messages.append({"role": role, "content": text})
    return check_messages(messages, where)


def sample_record(sample: Sample) -> dict:
    """A checked sample as a record of the kit's own shapes, which reads back into the same sample."""
    if sample.schema == "chat":
        return {"messages": sample.messages}
    if sample.schema == "prompt_completion":
        return {"prompt": sample.prompt, "completion": sample.completion}
    return {"text": sample.text}


def data_files(dataset: str, validation: str, column_map: dict, data_dir: Path, split: str = "train",
               config: str | None = None) -> tuple[Path, Path | None]:
    """(training file, validation file or None) that a training script reads as they are.

    A local file without `column_map` is used as it is. A Hub data set (its `split`; `validation` is then a split
    name too, unless it is a local file) or a local file with `column_map` is read and checked here, every
    problem named by where it is in the source, and written in the kit's own shapes as JSONL under `data_dir`.
    """
    hub = is_hub_dataset_id(dataset)

    def prepared(source: str, source_split: str, name: str) -> Path:
        if not column_map and not is_hub_dataset_id(source):
            return Path(source)
        samples = load_samples(source, source_split, column_map, config)
        if not samples:
            raise KitError(f"{source}: no records")
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        path = write_jsonl(Path(data_dir) / name, [sample_record(sample) for sample in samples])
        shown = samples[0].where.rsplit(":", 1)[0]  # the source as the positions name it, split included
        print(f"[data] {len(samples)} records of {shown} written to {path}")
        return path

    train = prepared(dataset, split, "train.jsonl")
    if not validation:
        return train, None
    if hub and not Path(validation).is_file():  # a split of the same data set
        return train, prepared(HUB_DATASET.match(dataset)["dataset"], validation, "validation.jsonl")
    return train, prepared(validation, split, "validation.jsonl")


def mix_in(task_samples: list, extra_samples: list, ratio: float, seed: int, source: str = "extra data") -> list:
    """`task_samples` plus enough of `extra_samples` (drawn with a seed) to make up `ratio` of the mix.

    Used for rehearsal: general data mixed into a narrow task so the model keeps its general skills. When more
    extra samples are needed than exist, they are repeated (each pass reshuffled).
    """
    import random

    if not 0 <= ratio < 1:
        raise KitError(f"the share of {source} must be at least 0 and below 1, got {ratio}")
    wanted = round(ratio * len(task_samples) / (1 - ratio))
    if wanted and not extra_samples:
        raise KitError(f"{source} has no samples to mix in")
    rng = random.Random(seed)
    drawn = []
    while len(drawn) < wanted:
        batch = list(extra_samples)
        rng.shuffle(batch)
        drawn += batch[: wanted - len(drawn)]
    return list(task_samples) + drawn
