"""Tests of ftkit.merging: an upload sends model files only, into an existing repository only when asked; free names."""

import pytest
from conftest import FakeHub

from ftkit.errors import KitError


def test_hub_upload_sends_only_model_files_and_asks_before_an_existing_repo(tmp_path, monkeypatch, capsys):
    import huggingface_hub

    from ftkit.merging import push_to_hub

    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "tokenizer_config.json",
                 "chat_template.jinja", "README.md", "run.json", "config.yml", "train_metrics.json", "loss_curve.png",
                 "predictions_validation.jsonl", "metrics.json", "UNFINISHED.txt"):
        (folder / name).write_text("x")
    FakeHub.uploads = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    monkeypatch.setattr(FakeHub, "existing", False)
    push_to_hub(folder, "me/new-model")
    [upload] = FakeHub.uploads
    assert upload["allow_patterns"] == ["README.md", "adapter_config.json", "adapter_model.safetensors",
                                        "chat_template.jinja", "loss_curve.png", "tokenizer.json",
                                        "tokenizer_config.json"]

    monkeypatch.setattr(FakeHub, "existing", True)
    with pytest.raises(KitError, match="'me/old-model' already exists; nothing was uploaded.*--push_to_existing"):
        push_to_hub(folder, "me/old-model")
    assert len(FakeHub.uploads) == 1  # nothing sent
    push_to_hub(folder, "me/old-model", into_existing=True)
    assert len(FakeHub.uploads) == 2


def test_merging_free_path_is_free_name(tmp_path):
    from ftkit.merging import free_path

    (tmp_path / "run-merged").mkdir()
    assert free_path(tmp_path / "run-merged") == tmp_path / "run-merged-2"
