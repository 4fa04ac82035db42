"""Plumbing for the notebook src/v1_000_finetune.ipynb: what a person sees, and what waits for one.

The notebook trains through v1_000_lora_finetune.main() like the command line does, and reads its data and
publishes its run through the same helpers as every script (ftkit.data: files, Hub data sets, column maps;
ftkit.runs: the `final` folder, resuming). This module holds only what a notebook needs around them: a one-line
stop instead of a traceback, samples shown as training sees them, pictures shown in place, a live loss plot, an
input box that never blocks a headless run, and the kit's scripts run as child processes.
"""

import time
from pathlib import Path

# Imported as themselves (re-exported): the notebook's data and run-folder helpers live with every script's.
from .data import ROLE_NAMES as ROLE_NAMES
from .data import data_files as data_files
from .data import is_hub_dataset_id as is_hub_dataset_id
from .data import kit_record as kit_record
from .data import load_hub_rows as load_hub_rows
from .data import normalised_message as normalised_message
from .errors import one_line
from .formatting import IGNORE_INDEX, encode_sample
from .runs import publish_final as publish_final
from .runs import run_to_resume as run_to_resume
from .runs import unfinished_run_with_checkpoint as unfinished_run_with_checkpoint


class NotebookStop(Exception):
    """Stops "run all" at this cell and shows one line, `error: <message>`, instead of a traceback.

    IPython (Jupyter, Colab, papermill) renders an exception through `_render_traceback_` when it has one.
    """

    def _render_traceback_(self):
        return [f"error: {one_line(self)}"]  # one line, secrets masked


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
