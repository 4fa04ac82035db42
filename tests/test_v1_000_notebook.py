"""Tests of the notebook src/v1_000_finetune.ipynb: committed without outputs, and run headless (papermill) top to
bottom on a tiny model for two steps; what it calls in ftkit.notebook has tests in tests/ftkit/test_notebook.py."""

import json
import re

import nbformat
import papermill
from conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "src" / "v1_000_finetune.ipynb"


def execute(tmp_path, **parameters):
    """Run the notebook headless in src/ with `parameters` injected; returns (executed notebook, error or None)."""
    output = tmp_path / "executed.ipynb"
    error = None
    try:
        papermill.execute_notebook(str(NOTEBOOK), str(output), parameters=parameters, cwd=str(NOTEBOOK.parent),
                                   kernel_name="python3", progress_bar=False, execution_timeout=300)
    except papermill.PapermillExecutionError as raised:
        error = raised
    return nbformat.read(output, as_version=4), error


def text_outputs(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output["text"])
            elif output.get("output_type") == "error":
                parts.append("\n".join(output["traceback"]))
    return "".join(parts)


def test_committed_notebook_has_no_outputs_and_one_parameters_cell():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code_cells)
    tagged = [cell for cell in code_cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1 and "PROJECT_NAME =" in tagged[0].source and "SAVE_EVERY =" in tagged[0].source
    assert not any(flag in tagged[0].source for flag in ("MERGE = True", "EXPORT_GGUF = True", "PUSH_TO_HUB = True"))


def test_notebook_trains_saves_final_and_answers_on_a_tiny_model(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    notebook, error = execute(tmp_path, PROJECT_NAME="tiny", SAVE_DIR=str(tmp_path / "save"),
                              BASE_MODEL=str(tiny_model_dirs["gemma3"]), DATASET=str(train), VALIDATION=str(validation),
                              MAX_STEPS=2, MAX_SEQ_LEN=256, PLOT_EVERY=1, MAX_NEW_TOKENS=6,
                              DEMO_PROMPTS=["山田太郎さんが来た。"])
    assert error is None, text_outputs(notebook)[-3000:]
    final = tmp_path / "save" / "tiny" / "final"
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (final / name).is_file(), name
    assert json.loads((final / "train_metrics.json").read_text())["optimizer_steps"] == 2
    assert not list((tmp_path / "save" / "tiny" / "runs").glob("*_tiny"))  # moved to final; nothing unfinished left
    text = text_outputs(notebook)
    assert "[demo] prompt: 山田太郎さんが来た。" in text
    generated = [int(n) for n in re.findall(r"^\[demo\] answer \((\d+) tokens\): ", text, flags=re.M)]
    assert len(generated) == 1 and 1 <= generated[0] <= 6, text[-2000:]
    assert "headless run: skipped" in text  # the input box did not wait for a person
    pictures = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(pictures) >= 2  # the length histogram and the live loss plot


def test_hub_data_set_without_network_stops_with_one_line(tiny_model_dirs, tmp_path, monkeypatch):
    # the kernel inherits it: no request leaves, as on a machine without network
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notebook, error = execute(tmp_path, SAVE_DIR=str(tmp_path / "save"), BASE_MODEL=str(tiny_model_dirs["gemma3"]),
                              DATASET="someone/no-such-data")
    assert error is not None
    failed = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert len(failed) == 1 and len(failed[0]["traceback"]) == 1, failed
    assert failed[0]["traceback"][0].startswith(
        "error: could not reach the data set 'someone/no-such-data' on the Hugging Face Hub")
