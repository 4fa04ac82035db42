"""LwF distillation and rehearsal: the loss, its chunking, the data mix, and the two scripts that use them."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT, marked_batch, tiny_batch, tiny_lora_model, write_jsonl

import v1_000_compare_forgetting as compare
import v1_000_lora_lwf_finetune as lwf
from ftkit import DEFAULT_DATASET_DIR
from ftkit.data import Sample, load_samples, mix_in
from ftkit.distill import lwf_loss_sum
from ftkit.errors import KitError
from ftkit.loss import label_token_loss_sum


def lora_b(model):
    return model.base_model.model.model.layers[0].self_attn.q_proj.lora_B.default.weight


def test_kl_is_zero_while_the_adapter_is_fresh(tiny_model_dirs):
    model = tiny_lora_model(tiny_model_dirs["gemma3"])  # LoRA B starts at zero: student == teacher
    batch = tiny_batch(tiny_model_dirs["gemma3"])
    total, count, parts = lwf_loss_sum(model, batch, distill_lambda=0.5, temperature=2.0)
    plain_sum, plain_count = label_token_loss_sum(model, batch)
    assert abs(parts["distill_kl"].item()) < 1e-5
    assert count == plain_count and total.item() == pytest.approx(plain_sum.item(), rel=1e-5)

    torch.nn.init.normal_(lora_b(model), std=0.1)  # once the adapter moves, the KL does too
    _, _, parts = lwf_loss_sum(model, batch, distill_lambda=0.5)
    assert parts["distill_kl"].item() > 1e-3


def test_chunked_kl_equals_unchunked_in_value_and_gradient(tiny_model_dirs):
    model = tiny_lora_model(tiny_model_dirs["gemma3"])
    torch.nn.init.normal_(lora_b(model), std=0.1)
    batch = tiny_batch(tiny_model_dirs["gemma3"])
    results = []
    for chunk_size in (5, 10**9):  # several chunks (checkpointed) against one chunk holding every token
        total, count, parts = lwf_loss_sum(model, batch, distill_lambda=0.7, temperature=2.0, chunk_size=chunk_size)
        (total / count).backward()
        results.append((total.item(), parts["distill_kl"].item(), lora_b(model).grad.clone()))
        lora_b(model).grad = None
    (chunked_total, chunked_kl, chunked_grad), (whole_total, whole_kl, whole_grad) = results
    assert chunked_kl > 1e-3
    assert chunked_total == pytest.approx(whole_total, rel=1e-5) and chunked_kl == pytest.approx(whole_kl, rel=1e-4)
    assert torch.allclose(chunked_grad, whole_grad, atol=1e-6)


PEAK_MEMORY_PROBE = textwrap.dedent("""
    import sys
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, Gemma3TextConfig
    sys.path.insert(0, {src!r})
    from ftkit.distill import lwf_loss_sum

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=131072, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                              num_attention_heads=1, num_key_value_heads=1, head_dim=32, layer_types=["full_attention"])
    model = get_peft_model(AutoModelForCausalLM.from_config(config), LoraConfig(r=4, target_modules="all-linear"))
    ids = torch.randint(0, 131072, (1, 400))
    batch = {{"input_ids": ids, "labels": ids.clone()}}

    def high_water_mib():
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024

    def current_mib():
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024

    lwf_loss_sum(model, {{k: v[:, :8] for k, v in batch.items()}}, 0.5)  # warm-up, small
    open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark to the current size
    before = current_mib()
    total, count, _ = lwf_loss_sum(model, batch, 0.5, chunk_size=int(sys.argv[1]))
    (total / count).backward()
    print(high_water_mib() - before)
""")


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to read peak memory")
def test_chunked_kl_peaks_lower_than_unchunked_on_a_large_vocabulary(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PEAK_MEMORY_PROBE.format(src=str(REPO_ROOT / "src")))
    # glibc keeps freed memory for reuse, which would blur the peak; mapping every block over 64 KiB on its own
    # makes the resident size follow the live tensors.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    peaks = {}
    for chunk_size in (32, 10**9):  # 400 tokens x 131,072 logits: 200 MiB per fp32 tensor when unchunked
        out = subprocess.run([sys.executable, str(probe), str(chunk_size)], capture_output=True, text=True, timeout=300, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        peaks[chunk_size] = float(out.stdout.strip().splitlines()[-1])
    assert peaks[10**9] > 400, peaks  # the unchunked path holds several 200 MiB logit tensors at once
    assert peaks[32] < 0.25 * peaks[10**9], peaks


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


def tiny_general_file(tmp_path):
    records = [{"messages": [{"role": "user", "content": "こんにちは"}, {"role": "assistant", "content": "こんにちは、元気です"}]},
               {"messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi, how are you?"}]}]
    return write_jsonl(tmp_path / "general.jsonl", records)


def test_lwf_script_logs_task_loss_and_kl_and_saves_a_normal_run(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    general = tiny_general_file(tmp_path)
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train), validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), rehearsal_file=str(general), rehearsal_ratio=0.2,
                            learning_rate=5e-3, max_steps=6, seed=0)
    run_dir = lwf.main(settings)
    assert "[data] rehearsal: 4 general samples mixed into 16 task samples" in capsys.readouterr().out
    history = json.loads((run_dir / "train_metrics.json").read_text())["history"]
    for entry in history:  # the total is the task loss plus lambda * T^2 * KL, per label token
        assert entry["loss"] == pytest.approx(entry["task_loss"] + 0.5 * entry["distill_kl"], rel=1e-5)
    assert history[0]["distill_kl"] < 1e-6 < history[-1]["distill_kl"]  # fresh adapter, then it moves
    assert (run_dir / "adapter_model.safetensors").is_file() and (run_dir / "loss_curve.png").is_file()
    assert str(general) in json.loads((run_dir / "run.json").read_text())["data_sha256"]


def test_lwf_trains_with_a_4bit_base(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train), validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), rehearsal_file=str(tiny_general_file(tmp_path)),
                            learning_rate=5e-3, max_steps=4, seed=0, qlora=True)
    history = json.loads((lwf.main(settings) / "train_metrics.json").read_text())["history"]
    assert history[0]["distill_kl"] < 1e-6 < history[-1]["distill_kl"]


def test_lwf_script_rejects_a_bad_setting(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train), validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), distill_temperature=0.0)
    with pytest.raises(SystemExit) as exit_info:
        lwf.main(settings)
    assert exit_info.value.code == 2 and "--distill_temperature" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("init", ["pissa", "olora"])
def test_lwf_refuses_an_init_that_changes_the_base_its_teacher_is(tiny_model_dirs, tiny_data, tmp_path, capsys, init):
    train, validation = tiny_data
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train), validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), lora_init=init)
    with pytest.raises(SystemExit) as exit_info:
        lwf.main(settings)
    assert exit_info.value.code == 2 and f"--lora_init {init} changes the base weights" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_compare_script_trains_both_and_reports_forgetting(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    general = tiny_general_file(tmp_path)
    settings = compare.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train),
                                validation_file=str(validation), general_file=str(general), rehearsal_file=str(general),
                                output_dir=str(tmp_path / "out"), max_steps=3, eval_samples=2)
    columns, ratio, text_ratio = compare.main(settings)
    assert columns["base"]["forgetting"] == 0 and columns["base"]["text_forgetting"] == 0
    assert columns["plain LoRA"]["general_text_perplexity"] != columns["plain LoRA"]["general_perplexity"]
    assert columns["plain LoRA"]["general_perplexity"] != columns["base"]["general_perplexity"]
    assert columns["plain LoRA"]["samples"] == 2 and "name_set_f1" in columns["LwF + rehearsal"]
    folder = next((tmp_path / "out").glob("*_forgetting"))
    saved = json.loads((folder / "comparison.json").read_text())
    assert saved["forgetting_ratio_lwf_over_plain"] == pytest.approx(ratio, nan_ok=True)


def test_general_data_files_are_what_the_converter_writes(tmp_path):
    converter = REPO_ROOT / "src" / "v1_000_make_general_data.py"
    subprocess.run([sys.executable, str(converter), "--out_dir", str(tmp_path)], check=True, capture_output=True, timeout=300)
    for name in ("general_rehearsal.jsonl", "general_heldout.jsonl"):
        assert (tmp_path / name).read_bytes() == (DEFAULT_DATASET_DIR / name).read_bytes(), name
    heldout = {json.dumps(s.messages, ensure_ascii=False) for s in load_samples(tmp_path / "general_heldout.jsonl")}
    rehearsal = {json.dumps(s.messages, ensure_ascii=False) for s in load_samples(tmp_path / "general_rehearsal.jsonl")}
    assert len(heldout) == 200 and not heldout & rehearsal


# ------------------------------------------------------------------------------------- where the KL acts


def test_collate_marks_tokens_only_for_marked_samples(tiny_model_dirs):
    assert "token_kind" not in tiny_batch(tiny_model_dirs["gemma3"])  # the plain recipe's batches are unchanged
    batch, encoded = marked_batch(tiny_model_dirs["gemma3"])
    for row, item in enumerate(encoded):
        length = len(item.input_ids)
        expected = 2 if item.kind == "rehearsal" else 1
        assert batch["token_kind"][row, :length].tolist() == [expected] * length
        assert batch["token_kind"][row, length:].tolist() == [0] * (batch["input_ids"].shape[1] - length)


def test_kl_on_rehearsal_only_equals_the_kl_of_the_rehearsal_rows_alone(tiny_model_dirs):
    model = tiny_lora_model(tiny_model_dirs["gemma3"])
    torch.nn.init.normal_(lora_b(model), std=0.3)
    mixed, _ = marked_batch(tiny_model_dirs["gemma3"])
    rehearsal_rows, _ = marked_batch(tiny_model_dirs["gemma3"], rows=[1, 3])
    _, count, parts = lwf_loss_sum(model, mixed, distill_lambda=0.5, distill_on="rehearsal")
    _, _, alone = lwf_loss_sum(model, rehearsal_rows, distill_lambda=0.5, distill_on="answers")
    plain_sum, plain_count = label_token_loss_sum(model, mixed)
    assert alone["distill_kl"].item() > 1e-3
    assert parts["distill_kl"].item() == pytest.approx(alone["distill_kl"].item(), rel=1e-4)
    # The cross-entropy still covers every answer, task and rehearsal alike.
    assert count == plain_count and parts["task_loss"].item() == pytest.approx(plain_sum.item(), rel=1e-5)


def test_kl_on_prompt_tokens_covers_the_task_prompts_and_nothing_else(tiny_model_dirs):
    from ftkit.distill import distill_positions
    from ftkit.formatting import IGNORE_INDEX

    batch, encoded = marked_batch(tiny_model_dirs["gemma3"])
    is_label = batch["labels"][:, 1:] != IGNORE_INDEX
    on_kl = distill_positions(batch, is_label, "prompt")
    for row, item in enumerate(encoded):
        # Position t predicts token t+1: every prompt token after the first is predicted once; none of a
        # rehearsal sample, no answer token, no padding.
        prompt_tokens = sum(label == IGNORE_INDEX for label in item.labels[1:])
        assert int(on_kl[row].sum()) == (prompt_tokens if item.kind == "task" else 0)
        assert not (on_kl[row] & is_label[row]).any()

    model = tiny_lora_model(tiny_model_dirs["gemma3"])
    torch.nn.init.normal_(lora_b(model), std=0.1)
    total, _, parts = lwf_loss_sum(model, batch, distill_lambda=0.5, distill_on="prompt")
    assert parts["distill_kl"].item() > 1e-3
    assert total.item() == pytest.approx(parts["task_loss"].item() + 0.5 * parts["distill_kl"].item(), rel=1e-5)


def test_lwf_script_records_forgetting_and_lambda_zero_trains_the_plain_loss(tiny_model_dirs, tiny_data, tmp_path):
    train, validation = tiny_data
    general = tiny_general_file(tmp_path)
    common = dict(model=str(tiny_model_dirs["gemma3"]), train_file=str(train), validation_file=str(validation),
                  rehearsal_file=str(general), forgetting_file=str(general), learning_rate=5e-3, max_steps=4, seed=0,
                  report_to="none")
    plain = json.loads((lwf.main(lwf.Settings(**common, output_dir=str(tmp_path / "a"), distill_lambda=0))
                        / "train_metrics.json").read_text())
    prompt = json.loads((lwf.main(lwf.Settings(**common, output_dir=str(tmp_path / "b"), distill_lambda=0.5,
                                               distill_on="prompt")) / "train_metrics.json").read_text())
    for metrics in (plain, prompt):
        forgetting = metrics["forgetting"]
        assert forgetting["conversations"] == 2
        assert forgetting["text_forgetting"] == pytest.approx(
            forgetting["text_perplexity"] / forgetting["base_text_perplexity"] - 1, rel=1e-9)
        assert forgetting["text_perplexity"] != forgetting["base_text_perplexity"]  # trained: the adapter moved
    assert prompt["forgetting"]["base_text_perplexity"] == pytest.approx(plain["forgetting"]["base_text_perplexity"], rel=1e-5)
    assert "distill_kl" not in plain["history"][-1] and prompt["history"][-1]["distill_kl"] > 0


def test_lwf_script_refuses_an_unknown_kl_scope(tiny_model_dirs, tiny_data, tmp_path, capsys):
    train, validation = tiny_data
    settings = lwf.Settings(model=str(tiny_model_dirs["gemma3"]), train_file=str(train), validation_file=str(validation),
                            output_dir=str(tmp_path / "out"), distill_on="everything")
    with pytest.raises(SystemExit) as exit_info:
        lwf.main(settings)
    assert exit_info.value.code == 2 and "--distill_on 'everything'" in capsys.readouterr().err
