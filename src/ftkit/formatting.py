"""Turn samples into token ids and labels: chat template, loss masking, packing and padding.

Labels use -100 (ignored by the loss) everywhere except on the tokens the model should learn to write:
by default the assistant turns (chat) or the completion, each followed by its end-of-turn / EOS token so that
the trained model stops by itself.
"""

import random
from dataclasses import dataclass, replace

from .data import Sample
from .errors import KitError

IGNORE_INDEX = -100

# Gemma's own turn format (the template of the official instruction-tuned Gemma 3 checkpoints), used when the
# model has no chat template, as the packaged base GGUF does. A system message is folded into the first user
# turn because Gemma has no system role.
GEMMA_TURN_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{ '<start_of_turn>model\n' }}"
    "{%- endif -%}"
)


def ensure_chat_template(tokenizer, log=print) -> None:
    """Give the tokenizer a chat template when it has none (saved with the adapter, so inference matches)."""
    if tokenizer.chat_template:
        return
    if "<start_of_turn>" not in tokenizer.get_vocab():
        raise KitError("the tokenizer has no chat template and no <start_of_turn> token; use 'text' or "
                       "'prompt'/'completion' records, or a model with a chat template")
    log("[data] the tokenizer has no chat template: using Gemma's <start_of_turn>/<end_of_turn> format")
    tokenizer.chat_template = GEMMA_TURN_TEMPLATE


def stop_token_ids(tokenizer) -> list[int]:
    """Tokens that end an answer: EOS and, where the vocabulary has it, Gemma's <end_of_turn>."""
    ids = [tokenizer.eos_token_id]
    end_of_turn = tokenizer.get_vocab().get("<end_of_turn>")
    if end_of_turn is not None:
        ids.append(end_of_turn)
    return ids


def render_prompt(tokenizer, messages: list) -> str:
    """The text the model sees before it answers: the conversation plus the opening of its own turn."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    kind: str = ""  # the Sample's kind; collate turns it into a per-token "token_kind" tensor when set

    @property
    def num_label_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def encode_sample(sample: Sample, tokenizer, train_on_all_tokens: bool = False) -> Encoded:
    if sample.schema == "chat":
        encoded = encode_chat(sample, tokenizer)
    elif sample.schema == "prompt_completion":
        prompt_ids = [tokenizer.bos_token_id] + tokenizer(sample.prompt, add_special_tokens=False).input_ids
        completion_ids = tokenizer(sample.completion, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
        encoded = Encoded(prompt_ids + completion_ids, [IGNORE_INDEX] * len(prompt_ids) + completion_ids)
    else:
        ids = ([tokenizer.bos_token_id] + tokenizer(sample.text, add_special_tokens=False).input_ids
               + [tokenizer.eos_token_id])
        encoded = Encoded(ids, list(ids))
    if train_on_all_tokens:
        encoded.labels = list(encoded.input_ids)
    encoded.kind = sample.kind
    return encoded


def encode_chat(sample: Sample, tokenizer) -> Encoded:
    """Tokenize the whole conversation once and label the characters of each assistant turn.

    The span of assistant turn i is found by rendering the conversation up to turn i with and without the
    turn itself. This works with any chat template (no `{% generation %}` markers needed), and tokenizing the
    whole text once keeps token boundaries exactly as at inference.
    """
    messages = sample.messages
    full_text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render_prompt(tokenizer, messages[:index])
        through = tokenizer.apply_chat_template(messages[: index + 1], tokenize=False)
        if not (through.startswith(before) and full_text.startswith(through)):
            raise KitError(f"{sample.where}: the chat template does not render turns as a growing prefix; "
                           "train with --train_on_all_tokens or use another template")
        spans.append((len(before), len(through)))
    encoding = tokenizer(full_text, add_special_tokens=False, return_offsets_mapping=True)
    labels = [
        token if any(start <= char_start < end for start, end in spans) else IGNORE_INDEX
        for token, (char_start, _) in zip(encoding.input_ids, encoding.offset_mapping)
    ]
    return Encoded(list(encoding.input_ids), labels)


def encode_all(samples: list[Sample], tokenizer, max_seq_len: int, train_on_all_tokens: bool, too_long: str):
    """Encode every sample; samples over `max_seq_len` are skipped or truncated. Returns (encoded, n_too_long)."""
    encoded, counts = encode_all_counted(samples, tokenizer, max_seq_len, train_on_all_tokens, too_long)
    return encoded, counts["over_max_seq_len"]


def encode_all_counted(samples: list[Sample], tokenizer, max_seq_len: int, train_on_all_tokens: bool, too_long: str):
    """`encode_all` with the count of each outcome: (encoded, {"over_max_seq_len", "skipped", "truncated",
    "dropped"}).

    With `too_long="skip"` every sample over the limit is skipped. With "truncate" it is cut to the limit and
    kept ("truncated") when some of its answer survives the cut; one whose answer is cut off entirely has
    nothing left to learn and is dropped ("dropped"), not counted as truncated.
    """
    encoded = []
    counts = {"over_max_seq_len": 0, "skipped": 0, "truncated": 0, "dropped": 0}
    for sample in samples:
        item = encode_sample(sample, tokenizer, train_on_all_tokens)
        if len(item.input_ids) > max_seq_len:
            counts["over_max_seq_len"] += 1
            if too_long == "skip":
                counts["skipped"] += 1
                continue
            item = replace(item, input_ids=item.input_ids[:max_seq_len], labels=item.labels[:max_seq_len])
            counts["truncated" if item.num_label_tokens > 0 else "dropped"] += 1
        if item.num_label_tokens > 0:
            encoded.append(item)
    return encoded, counts


# ----------------------------------------------------------------------------------------- batches


def pack(encoded: list[Encoded], max_seq_len: int) -> list[list[Encoded]]:
    """Group samples into rows of at most `max_seq_len` tokens (first-fit decreasing).

    Packing removes padding: a packed row costs only its real tokens. Each sample keeps its own position ids
    (restarting at 0) and the attention masks keep every sample to itself (see `collate_packed`).
    """
    rows: list[list[Encoded]] = []
    room: list[int] = []
    for item in sorted(encoded, key=lambda e: len(e.input_ids), reverse=True):
        size = len(item.input_ids)
        for row_index, free in enumerate(room):
            if size <= free:
                rows[row_index].append(item)
                room[row_index] -= size
                break
        else:
            rows.append([item])
            room.append(max_seq_len - size)
    return rows


def make_micro_batches(encoded: list[Encoded], micro_batch_size: int, packing: bool, max_seq_len: int, seed: int):
    """Micro-batches (lists of rows, each row a list of samples) in a seeded random order."""
    rows = pack(encoded, max_seq_len) if packing else [[item] for item in encoded]
    random.Random(seed).shuffle(rows)
    return [rows[start : start + micro_batch_size] for start in range(0, len(rows), micro_batch_size)]


def make_token_micro_batches(encoded: list[Encoded], micro_batch_tokens: int, packing: bool, max_seq_len: int,
                             seed: int):
    """Micro-batches bounded by tokens rather than by samples, in a seeded random order.

    Memory follows tokens (rows x longest row, padding included), not the number of samples, so a budget in
    tokens fits long and short samples alike; a micro-batch always holds at least one row.
    Packed rows are nearly full, so they are shuffled and taken in that order (with a budget of one row this is
    exactly one packed row per micro-batch). Unpacked rows (one sample each) are sorted by length before they
    are cut, which keeps padding small, and the micro-batches are shuffled afterwards.
    """
    rng = random.Random(seed)
    if packing:
        rows = pack(encoded, max_seq_len)
        rng.shuffle(rows)
    else:
        rows = sorted(([item] for item in encoded), key=row_length)
    micro_batches, current, longest = [], [], 0
    for row in rows:
        if current and (len(current) + 1) * max(longest, row_length(row)) > micro_batch_tokens:
            micro_batches.append(current)
            current, longest = [], 0
        current.append(row)
        longest = max(longest, row_length(row))
    if current:
        micro_batches.append(current)
    if not packing:
        rng.shuffle(micro_batches)
    return micro_batches


def row_length(row: list[Encoded]) -> int:
    return sum(len(item.input_ids) for item in row)


def collate(rows: list[list[Encoded]], pad_token_id: int, pad_to_multiple_of: int = 1):
    """Tensors for one micro-batch.

    A row holding several samples gets position ids that restart at each sample and no attention mask:
    transformers then builds a block-diagonal causal mask from the position ids (its packed-sequence support),
    so no token attends to another sample. Rows are right-padded to the longest row (rounded up to a multiple
    of `pad_to_multiple_of`); padding positions carry label -100 and, when no row is packed, an attention mask
    of 0.
    """
    import torch

    width = max(sum(len(item.input_ids) for item in row) for row in rows)
    width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    input_ids, labels, position_ids, attention_mask = [], [], [], []
    for row in rows:
        ids = [token for item in row for token in item.input_ids]
        row_labels = [label for item in row for label in item.labels]
        positions = [position for item in row for position in range(len(item.input_ids))]
        padding = width - len(ids)
        input_ids.append(ids + [pad_token_id] * padding)
        labels.append(row_labels + [IGNORE_INDEX] * padding)
        # Padding continues the last sample's positions, so it is not mistaken for the start of a new sample.
        positions += list(range(positions[-1] + 1, positions[-1] + 1 + padding))
        position_ids.append(positions)
        attention_mask.append([1] * len(ids) + [0] * padding)
    batch = {
        "input_ids": torch.tensor(input_ids),
        "labels": torch.tensor(labels),
        "position_ids": torch.tensor(position_ids),
    }
    packed = any(len(row) > 1 for row in rows)
    if not packed:
        batch["attention_mask"] = torch.tensor(attention_mask)
    if any(item.kind for row in rows for item in row):
        # Only for samples a recipe marked (LwF + rehearsal): 0 padding, 1 task, 2 rehearsal, per token.
        code = {"": 1, "task": 1, "rehearsal": 2}
        batch["token_kind"] = torch.tensor([[code[item.kind] for item in row for _ in item.input_ids]
                                            + [0] * (width - row_length(row)) for row in rows], dtype=torch.int8)
    return batch
