"""Model cards: a finished tiny run's README.md is a Hugging Face model card with the kit's metadata, names the
losses, sample counts and checksums, links the loss curve, has nothing of peft's empty template and no absolute
path of this machine; the card of a default run (packaged Gemma, bundled data) names the Hub base model and the
data's notices; refresh_model_card adds an evaluation and leaves a hand-written README alone; a merged model
gets its own card."""

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT, TINY_RECORDS, settings_for, write_jsonl

import v1_000_lora_finetune as finetune
from ftkit.model_card import (CARD_FILE, base_licence, describe_base_model, refresh_model_card, run_card_text,
                              shown_path)
from ftkit.settings import file_sha256
from ftkit.task import EXTRACTION_SYSTEM_PROMPT


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dirs, tmp_path_factory):
    """(run folder, train file, validation file) of a finished two-step run with generation metrics."""
    data_dir = tmp_path_factory.mktemp("card-data")
    train = write_jsonl(data_dir / "train.jsonl", TINY_RECORDS * 4)
    validation = write_jsonl(data_dir / "validation.jsonl", TINY_RECORDS)
    output = tmp_path_factory.mktemp("card-runs")
    run = finetune.main(settings_for(tiny_model_dirs["gemma3"], train, validation, output, max_steps=2,
                                     eval_generate=2))
    return Path(run), train, validation


def card_of(path: Path):
    from huggingface_hub import ModelCard

    return ModelCard.load(str(path))


def private_paths(*paths) -> list[str]:
    """The absolute paths of this machine that a card must not contain."""
    found = [str(Path(p).resolve()) for p in paths] + [str(REPO_ROOT.resolve()), str(Path.home().resolve())]
    return [p for p in found if len(p) > 1]


def test_finished_run_has_a_model_card_a_person_could_publish(tiny_run, tiny_model_dirs):
    run, train, validation = tiny_run
    text = (run / CARD_FILE).read_text(encoding="utf-8")
    card = card_of(run / CARD_FILE)
    data = card.data.to_dict()
    assert data["library_name"] == "peft" and data["pipeline_tag"] == "text-generation"
    assert {"lora", "sft", "ftkit"} <= set(data["tags"])
    assert data["license"] == "gemma"  # a Gemma-architecture base: the Gemma Terms of Use
    assert "base_model" not in data and "datasets" not in data  # a local base and local files: no Hub id to name

    metrics = json.loads((run / "train_metrics.json").read_text())
    assert f"| final train loss | {metrics['final_train_loss']:.4f} |" in text
    assert f"| validation loss | {metrics['validation_loss']:.4f} |" in text
    assert "Generation metrics at the end of training" in text and "| name_set_f1 |" in text
    assert f"| training | `train.jsonl` | 16 | `{file_sha256(train)}` |" in text
    assert f"| validation | `validation.jsonl` | 4 | `{file_sha256(validation)}` |" in text
    assert ("![Training and validation loss per optimizer step](loss_curve.png)" in text
            and (run / "loss_curve.png").is_file())
    assert "| LoRA rank r / alpha / dropout | 16 / 32 / 0.0 |" in text
    assert "PeftModel.from_pretrained" in text and f"src/v1_000_infer.py --adapter path/to/{run.name}" in text
    assert "Gemma Terms of Use" in text and "its licence is not recorded" in text
    assert "[More Information Needed]" not in text  # nothing of peft's template is left
    for path in private_paths(run, train, tiny_model_dirs["gemma3"]):
        assert path not in text, path
    assert not re.search(r"(?<![\w.:/])/(tmp|root|home|Users)/", text)


def test_card_of_a_default_run_names_the_hub_base_model_and_the_bundled_datas_notices(tiny_run, tmp_path):
    """The run of README command 1 (packaged Gemma-3 270M, bundled data), as its recorded files say: the tiny run's
    folder with the paths that run would record."""
    run, _, _ = tiny_run
    default = tmp_path / run.name
    shutil.copytree(run, default)
    adapter_config = json.loads((default / "adapter_config.json").read_text())
    adapter_config["base_model_name_or_path"] = "tmp_docker/models/gemma-3-270m"
    (default / "adapter_config.json").write_text(json.dumps(adapter_config))
    recorded = json.loads((default / "run.json").read_text())
    bundled = {"train_file": "tmp_docker/dataset/train.jsonl", "validation_file": "tmp_docker/dataset/validation.jsonl"}
    recorded["settings"].update(bundled, model="tmp_docker/models/gemma-3-270m")
    recorded["data_sha256"] = {path: file_sha256(REPO_ROOT / path) for path in bundled.values()}
    (default / "run.json").write_text(json.dumps(recorded))

    text = run_card_text(default)
    data = card_of_text(text)
    assert data["base_model"] == "google/gemma-3-270m" and data["license"] == "gemma" and data["language"] == ["ja"]
    records = sum(1 for line in (REPO_ROOT / bundled["train_file"]).read_text(encoding="utf-8").splitlines()
                  if line.strip())
    assert f"| training | `tmp_docker/dataset/train.jsonl` | {records} |" in text
    assert "tmp_docker/dataset/NAMES_NOTICE.md" in text and "MIT License" in text
    assert EXTRACTION_SYSTEM_PROMPT in text and "bundled task" in text
    assert 'from_pretrained("google/gemma-3-270m")' in text
    for path in private_paths(default):
        assert path not in text


def card_of_text(text: str) -> dict:
    from huggingface_hub import ModelCard

    return ModelCard(text).data.to_dict()


def test_base_models_and_their_licences():
    assert base_licence("HuggingFaceTB/SmolLM2-135M-Instruct", "llama") == ("apache-2.0", "Apache License 2.0")
    assert base_licence("Qwen/Qwen3-0.6B", "qwen3")[0] == "apache-2.0"
    assert base_licence("Qwen/Qwen2.5-3B-Instruct", "qwen2") == (None, None)  # the Qwen Research licence: not assumed
    assert base_licence(None, "gemma3_text")[0] == "gemma"
    assert base_licence(None, "llama") == (None, None)
    smollm2 = describe_base_model("tmp_docker/models/smollm2-135m-instruct")
    assert (smollm2.hub_id, smollm2.licence_id) == ("HuggingFaceTB/SmolLM2-135M-Instruct", "apache-2.0")
    assert describe_base_model("Qwen/Qwen3-0.6B").hub_id == "Qwen/Qwen3-0.6B"
    assert shown_path(str(REPO_ROOT / "tmp_docker" / "dataset" / "train.jsonl")) == "tmp_docker/dataset/train.jsonl"
    assert shown_path("/somewhere/private/data.jsonl") == "data.jsonl"
    assert shown_path("~/data/mine.jsonl") == "mine.jsonl"


def test_refresh_adds_an_evaluation_and_leaves_a_handwritten_readme_alone(tiny_run, tmp_path):
    run, _, validation = tiny_run
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    (copy / "metrics.json").write_text(json.dumps({"validation": {
        "eval_file": str(validation), "base": {"samples": 4, "json_parse_rate": 0.0, "name_set_f1": 0.0},
        "adapter": {"samples": 4, "json_parse_rate": 1.0, "name_set_f1": 0.75}}}))
    assert refresh_model_card(copy) == copy / CARD_FILE
    text = (copy / CARD_FILE).read_text(encoding="utf-8")
    assert "Evaluation on `validation.jsonl` (4 samples" in text and "| name_set_f1 | 0.000 | 0.750 |" in text
    assert str(validation) not in text

    (copy / CARD_FILE).write_text("# My own card\n", encoding="utf-8")
    assert refresh_model_card(copy) is None
    assert (copy / CARD_FILE).read_text(encoding="utf-8") == "# My own card\n"
    assert refresh_model_card(tmp_path) is None and not (tmp_path / CARD_FILE).exists()  # no adapter there


def test_merged_model_gets_its_own_card(tiny_run, tmp_path):
    import v1_000_merge as merge

    run, _, _ = tiny_run
    out = merge.main(merge.Settings(adapter=str(run), output=str(tmp_path / "merged"), dtype="fp32"))
    text = (out / CARD_FILE).read_text(encoding="utf-8")
    data = card_of(out / CARD_FILE).data.to_dict()
    assert data["library_name"] == "transformers" and {"lora", "sft", "ftkit", "merged"} <= set(data["tags"])
    assert data["license"] == "gemma" and "no peft needed" in text and "| validation loss |" in text
    for path in private_paths(run, out):
        assert path not in text
