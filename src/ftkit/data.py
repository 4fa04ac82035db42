"""Read training data (JSONL or a JSON array) and check every record, naming file and line on any problem.

Four schemas are accepted, detected per record, as in TRL and Axolotl:
  chat                {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
  instruction         {"instruction": "...", "input": "...", "output": "..."}   (Alpaca style; input optional)
  prompt/completion   {"prompt": "...", "completion": "..."}
  text                {"text": "..."}                                            (plain language modelling)
Instruction records become chat records, so both are formatted with the chat template.
Other keys in a record (ids, tags) are ignored.

Files are UTF-8 (a leading byte-order mark is accepted); a file in another encoding is a one-line error naming
the line of the first byte that is not UTF-8. A `.jsonl` file is always one record per line (a line holding a
JSON list is an error on that line); a `.json` file is a JSON array, or JSON Lines when it holds objects one
per line.
"""

import codecs
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import KitError

CHAT_ROLES = ("system", "user", "assistant")


@dataclass
class Sample:
    where: str  # "file:line", for messages about this sample
    schema: str  # "chat" | "prompt_completion" | "text"
    messages: list | None = None
    prompt: str | None = None
    completion: str | None = None
    text: str | None = None
    kind: str = ""  # "" unless a recipe marks it: "task" or "rehearsal" (LwF's KL can act on one kind only)


def load_samples(path: str | Path) -> list[Sample]:
    """All records of a .jsonl (one JSON object per line) or .json (an array of objects) file, checked."""
    return [sample for _, sample in load_checked_records(path)]


def load_checked_records(path: str | Path) -> list[tuple[dict, Sample]]:
    """(record as read, checked sample) pairs: for tools that rewrite data files record by record."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"data file not found: {path}")
    raw = read_text_file(path)
    if not raw.strip():
        raise KitError(f"data file is empty: {path}")
    return [(record, sample_from_record(record, f"{path}:{line}")) for line, record in read_records(path, raw)]


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
    if "instruction" in record and "output" in record:
        user = string_field(record, "instruction", where)
        extra = record.get("input") or ""
        if not isinstance(extra, str):
            raise KitError(f"{where}: field 'input' must be a string")
        if extra.strip():
            user = f"{user}\n\n{extra}"
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": string_field(record, "output", where)}]
        return Sample(where, "chat", messages=messages)
    if "prompt" in record and "completion" in record:
        return Sample(where, "prompt_completion", prompt=string_field(record, "prompt", where),
                      completion=string_field(record, "completion", where))
    if "text" in record:
        return Sample(where, "text", text=string_field(record, "text", where))
    keys = ", ".join(sorted(record)) or "none"
    raise KitError(
        f"{where}: record matches no schema (keys: {keys}); expected 'messages', 'instruction'+'output', "
        f"'prompt'+'completion' or 'text'"
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
            raise KitError(f"{where}: messages[{index}].role is '{message['role']}', expected one of {', '.join(CHAT_ROLES)}")
        if not isinstance(message["content"], str):
            raise KitError(f"{where}: messages[{index}].content must be a string")
    if not any(message["role"] == "assistant" for message in messages):
        raise KitError(f"{where}: chat record has no assistant turn, so there is nothing to learn")
    return [{"role": message["role"], "content": message["content"]} for message in messages]


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
