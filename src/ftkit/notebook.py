"""Plumbing for the notebook src/v1_000_finetune.ipynb: where things come from, what a person sees, where things go.

The notebook trains through v1_000_lora_finetune.main() like the command line does; this module only holds what a
notebook needs around it: a one-line stop instead of a traceback, a data set given as a Hugging Face Hub id,
records of another shape mapped to the kit's, samples shown as training sees them, a live loss plot, the
published `final` folder, and an input box that never blocks a headless run.
"""

import json
import re
import time
from pathlib import Path

from .base_model import HUB_ID
from .data import read_records, read_text_file
from .errors import KitError, first_line, one_line
from .formatting import IGNORE_INDEX, encode_sample
from .runs import ADAPTER_FILE, INCOMPLETE_PREFIX, run_order_key
from .checkpoint import CHECKPOINT_FILE

ROLE_NAMES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "model": "assistant",
              "bot": "assistant", "system": "system"}


class NotebookStop(Exception):
    """Stops "run all" at this cell and shows one line, `error: <message>`, instead of a traceback.

    IPython (Jupyter, Colab, papermill) renders an exception through `_render_traceback_` when it has one.
    """

    def _render_traceback_(self):
        return [f"error: {one_line(self)}"]  # one line, secrets masked


def is_hub_dataset_id(value: str) -> bool:
    """"owner/name" that is not a path on this machine nor a data file name (a model id: base_model.is_hub_id)."""
    return bool(HUB_ID.match(value)) and not Path(value).exists() and not value.endswith((".json", ".jsonl"))


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


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a local .jsonl (or .json array) file, before any schema check."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"data file not found: {path} (give a local .jsonl / .json file or a Hub id 'owner/name')")
    # The training loader's own reader: UTF-8 (a BOM is fine), JSON Lines or a .json array, errors naming the line.
    return [row for _, row in read_records(path, read_text_file(path))]


def kit_record(row: dict, column_map: dict | None = None) -> dict:
    """One row in one of the kit's shapes (messages | instruction+output | prompt+completion | text).

    `column_map` names the data set's column for each kit field, such as {"prompt": "question", "completion":
    "answer"} or {"text": "content"}; without it the kit's own names are used, and ShareGPT's 'conversations'
    ({"from": "human"|"gpt", "value": ...}) counts as 'messages'. Messages are normalised to role/content, and
    a conversational prompt/completion pair (lists of messages, as TRL writes them) becomes one conversation.
    """
    if column_map:
        missing = [column for column in column_map.values() if column not in row]
        if missing:
            raise KitError(f"COLUMN_MAP names {', '.join(missing)}, but the data set's columns are {', '.join(sorted(row))}")
        record = {field: row[column] for field, column in column_map.items()}
    else:
        record = dict(row)
        if "messages" not in record and isinstance(record.get("conversations"), list):
            record["messages"] = record.pop("conversations")
    if isinstance(record.get("prompt"), list) and isinstance(record.get("completion"), list):
        record = {"messages": record["prompt"] + record["completion"]}
    if isinstance(record.get("messages"), list):
        record["messages"] = [normalised_message(message) for message in record["messages"]]
    return record


def normalised_message(message):
    if not isinstance(message, dict):
        return message  # the kit's check names the record and the problem
    role = message.get("role", message.get("from"))
    return {"role": ROLE_NAMES.get(str(role).lower(), role), "content": message.get("content", message.get("value"))}


def write_jsonl(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


def training_view(sample, tokenizer) -> tuple[str, str]:
    """(the whole text as training tokenizes it, the part that carries the loss), both decoded from the tokens."""
    encoded = encode_sample(sample, tokenizer)
    learned = [token for token in encoded.labels if token != IGNORE_INDEX]
    return tokenizer.decode(encoded.input_ids), tokenizer.decode(learned)


def token_lengths(samples, tokenizer) -> list[int]:
    return [len(encode_sample(sample, tokenizer).input_ids) for sample in samples]


def length_histogram(lengths: list[int], max_seq_len: int):
    """A matplotlib Figure (made without pyplot, so it shows exactly once, also headless)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3), dpi=100)
    axis = figure.subplots()
    axis.hist(lengths, bins=min(40, max(5, len(set(lengths)))), color="tab:blue", alpha=0.8)
    axis.axvline(max_seq_len, color="tab:red", linestyle="--", label=f"max length {max_seq_len}")
    axis.set_xlabel("tokens per sample (prompt + answer, as trained)")
    axis.set_ylabel("samples")
    axis.legend()
    figure.tight_layout()
    return figure


def show_figure(figure, handle=None):
    """Display a Figure as a PNG, or replace the one shown under `handle`; returns the handle (None outside IPython)."""
    import io

    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return None
    if get_ipython() is None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    image = Image(data=buffer.getvalue(), format="png")
    if handle is None:
        return display(image, display_id=True)
    handle.update(image)
    return handle


class LiveLossPlot:
    """`on_step` for v1_000_lora_finetune.main(): redraws the training loss every `every` steps.

    The picture is replaced in place (one output, not one per update); outside IPython a line is printed instead.
    """

    def __init__(self, every: int = 5, title: str = ""):
        self.every, self.title = max(1, every), title
        self.steps, self.losses = [], []
        self.handle = None

    def __call__(self, record: dict) -> None:
        self.steps.append(record["step"])
        self.losses.append(record["loss"])
        if len(self.steps) == 1 or record["step"] % self.every == 0:
            self.draw()

    def draw(self) -> None:
        if not self.steps:
            return
        from matplotlib.figure import Figure

        from .reporting import smoothed

        figure = Figure(figsize=(7, 3.5), dpi=100)
        axis = figure.subplots()
        axis.plot(self.steps, self.losses, color="tab:blue", alpha=0.35, label="train loss (per step)")
        axis.plot(self.steps, smoothed(self.losses), color="tab:blue", linewidth=2, label="smoothed")
        axis.set_xlabel("optimizer step")
        axis.set_ylabel("loss per label token")
        axis.set_title(f"{self.title}  step {self.steps[-1]}, loss {self.losses[-1]:.4f}")
        axis.grid(alpha=0.3)
        axis.legend()
        figure.tight_layout()
        self.handle = show_figure(figure, self.handle)
        if self.handle is None:
            print(f"[plot] step {self.steps[-1]}: loss {self.losses[-1]:.4f}")


def unfinished_run_with_checkpoint(runs_dir: str | Path, run_name: str) -> Path | None:
    """The newest unfinished run of this name that holds a rolling checkpoint (to resume after a disconnect);
    newest by the start time in its name, not by when a file in it last changed."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return None
    candidates = [p for p in runs_dir.glob(f"{INCOMPLETE_PREFIX}*_{run_name}*") if (p / CHECKPOINT_FILE).is_file()
                  and re.fullmatch(rf"{re.escape(INCOMPLETE_PREFIX)}[^_]+_{re.escape(run_name)}(-\d+)?", p.name)]
    return max(candidates, key=run_order_key, default=None)


def run_to_resume(resume: str, runs_dir: str | Path, run_name: str, log=print) -> Path | None:
    """The notebook's RESUME setting as the folder to continue, or None for a new run.

    Nothing is resumed without being asked: "" (the default) starts a new run and only names an unfinished one
    it finds; "latest" continues the newest unfinished run of this project that has a checkpoint; a path
    continues that folder. (A checkpoint is read with weights_only=True either way: it cannot run code.)
    """
    found = unfinished_run_with_checkpoint(runs_dir, run_name)
    if not resume:
        if found:
            log(f"[resume] {found} can be continued: set RESUME = \"latest\" (or its path) to do so; starting a new run")
        return None
    if resume == "latest":
        if found is None:
            raise KitError(f"RESUME = \"latest\": no unfinished run of '{run_name}' with a checkpoint under {runs_dir}")
        return found
    path = Path(resume)
    if not (path / CHECKPOINT_FILE).is_file():
        raise KitError(f"RESUME = {resume!r}: no {CHECKPOINT_FILE} there; give \"\", \"latest\" or an unfinished run folder")
    return path


def publish_final(run_dir: str | Path, project_dir: str | Path) -> Path:
    """Move a finished run folder to `<project_dir>/final`; an existing final is never touched: the new one
    becomes final-2, final-3, ... A rename on one file system is atomic, so a final folder is always whole."""
    run_dir, project_dir = Path(run_dir), Path(project_dir)
    if not (run_dir / ADAPTER_FILE).is_file():
        raise KitError(f"{run_dir} holds no adapter ({ADAPTER_FILE} missing)")
    final, version = project_dir / "final", 1
    while final.exists():
        version += 1
        final = project_dir / f"final-{version}"
    run_dir.rename(final)
    from .model_card import refresh_model_card

    refresh_model_card(final)  # the card names the folder it now lives in
    return final


def ask_prompts(answer, headless_note: str = "[demo] no input box in a headless run: skipped") -> None:
    """An input box for your own texts: a widget where ipywidgets exists, else `input()` until an empty line.

    A headless run (papermill, nbclient, CI) has no standard input: `input()` fails at once there, and this
    returns instead of waiting.
    """
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        widgets = None
    if widgets is not None:
        box = widgets.Textarea(placeholder="your text", layout=widgets.Layout(width="100%", height="80px"))
        button, output = widgets.Button(description="answer"), widgets.Output()

        def on_click(_):
            with output:
                print(f"> {box.value}\n{answer(box.value)}\n")

        button.on_click(on_click)
        display(widgets.VBox([box, button, output]))
        return
    while True:
        try:
            text = input("your text (empty line to stop): ")
        except Exception:  # StdinNotImplementedError (no frontend stdin), EOFError, OSError
            print(headless_note)
            return
        if not text.strip():
            return
        started = time.time()
        print(f"{answer(text)}\n({time.time() - started:.1f} s)")


def data_files(dataset: str, validation: str, column_map: dict, data_dir: Path, split: str = "train",
               config: str | None = None) -> tuple[Path, Path | None]:
    """(training file, validation file or None) in the kit's shapes.

    A local file without `column_map` is used as it is. A Hub data set (its `split`; `validation` is then a split
    name too) or a local file with `column_map` is mapped record by record and written as JSONL under `data_dir`.
    """
    hub = is_hub_dataset_id(dataset)

    def mapped(rows: list, source: str, name: str) -> Path:
        if not rows:
            raise KitError(f"{source}: no records")
        path = write_jsonl([kit_record(row, column_map) for row in rows], data_dir / name)
        print(f"[data] {len(rows)} records of {source} written to {path}")
        return path

    def prepared(source: str, name: str, hub_split: str | None) -> Path:
        if hub_split is not None:
            return mapped(load_hub_rows(dataset, hub_split, config), f"{dataset} ({hub_split})", name)
        return mapped(read_rows(source), source, name) if column_map else Path(source)

    train = prepared(dataset, "train.jsonl", split if hub else None)
    if not validation:
        return train, None
    validation_split = validation if hub and not Path(validation).is_file() else None
    return train, prepared(validation, "validation.jsonl", validation_split)


def run_kit_script(src_dir: str | Path, script: str, *arguments) -> bool:
    """Run one of the kit's scripts in a child process (as on the command line), showing its output as it comes."""
    import subprocess
    import sys

    path = Path(src_dir) / script
    if not path.is_file():
        print(f"[skip] {script} is not in this checkout ({path})")
        return False
    command = [sys.executable, str(path), *map(str, arguments)]
    print("[run] python " + " ".join(command[1:]))
    process = subprocess.Popen(command, cwd=Path(src_dir).parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    for line in process.stdout:
        print(line, end="")
    if process.wait() != 0:
        print(f"[run] {script} stopped with exit status {process.returncode}")
        return False
    return True
