"""Check the GGUF export on a real adapter: export each format, read it back, and compare with the merged model.

Run:
    python src/v1_000_check_gguf_export.py                                  # newest run, all validation samples
    python src/v1_000_check_gguf_export.py --num_samples 20 --types q8_0

For each format (bf16, f16, q8_0) it writes the GGUF file into a temporary folder (removed at the end unless
--keep_dir is given), reads it back with transformers (`from_pretrained(..., gguf_file=...)`) and runs the
validation conversations (prompt and reference answer) through the file's model and the merged model (fp32)
with the same token ids. It prints, per format: the largest logit difference, the greedy next-token agreement
over every position and at the first answer token, and whether the file's tokenizer and chat template give the
same ids. With llama-cpp-python installed it also generates greedy answers with llama.cpp from each file and
counts how many equal the merged model's answers. Writes nothing else.
"""

import importlib.util
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ftkit import DEFAULT_DATASET_DIR
from ftkit.cli import run_cli
from ftkit.data import load_samples
from ftkit.generation import prompts_and_references
from ftkit.gguf_export import GGUF_TYPES, write_gguf
from ftkit.merging import AdapterSettings, merge_adapter, open_adapter
from ftkit.settings import check_choice
from ftkit.text_tables import comma_list, markdown_table


@dataclass
class Settings(AdapterSettings):  # adapter, output_dir, model (ftkit/merging.py), then:
    validation_file: str = field(default=str(DEFAULT_DATASET_DIR / "validation.jsonl"), metadata={
        "help": "chat JSONL whose conversations are compared"})
    num_samples: int = field(default=0, metadata={"help": "compare on the first N conversations (0: all)"})
    types: str = field(default="bf16,f16,q8_0", metadata={"help": "comma-separated GGUF formats to check"})
    llama_cpp_samples: int = field(default=5, metadata={
        "help": "with llama-cpp-python installed: greedy answers compared on this many prompts"})
    max_new_tokens: int = field(default=96, metadata={"help": "answer length limit for the generation comparison"})
    keep_dir: str = field(default="", metadata={
        "help": "keep the GGUF files in this new folder instead of a temporary one"})


def main(settings: Settings) -> dict:
    # 1. The adapter, its base model and the conversations to compare on.
    gguf_types = comma_list(settings.types)
    for gguf_type in gguf_types:
        check_choice(gguf_type, GGUF_TYPES, "types")
    adapter_dir, _, base_model_dir = open_adapter(settings.adapter, settings.output_dir, settings.model)
    conversations, references = prompts_and_references(load_samples(settings.validation_file))
    if settings.num_samples:
        conversations, references = conversations[: settings.num_samples], references[: settings.num_samples]
    print(f"[check] base {base_model_dir} + adapter {adapter_dir}; "
          f"{len(conversations)} conversations of {settings.validation_file}")

    # 2. The merged model in PyTorch, then each GGUF format written and read back against it.
    merged, tokenizer = merge_adapter(base_model_dir, adapter_dir)
    prompts, full_ids, answer_starts = encode(tokenizer, conversations, references)
    folder = Path(settings.keep_dir) if settings.keep_dir else Path(tempfile.mkdtemp(prefix="gguf-check-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        paths = {gguf_type: write_gguf(merged, tokenizer, folder / f"{adapter_dir.name}-{gguf_type}.gguf", gguf_type,
                                       name=adapter_dir.name) for gguf_type in gguf_types}
        results = compare_read_back(merged, tokenizer, paths, prompts, full_ids, answer_starts)
        if importlib.util.find_spec("llama_cpp") and settings.llama_cpp_samples:
            for gguf_type, path in paths.items():
                results[gguf_type].update(compare_llama_cpp(merged, tokenizer, path,
                                                            prompts[: settings.llama_cpp_samples],
                                                            settings.max_new_tokens))
    finally:
        if not settings.keep_dir:
            shutil.rmtree(folder, ignore_errors=True)

    # 3. The verdict per format.
    report(results)
    return results


def encode(tokenizer, conversations, references):
    """Prompt text (with the opening of the model's turn), and ids of prompt + reference answer."""
    from ftkit.formatting import render_prompt

    prompts, full_ids, answer_starts = [], [], []
    for messages, reference in zip(conversations, references):
        prompt = render_prompt(tokenizer, messages)
        prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids
        answer_ids = tokenizer(reference + "<end_of_turn>\n" if "<end_of_turn>" in tokenizer.get_vocab() else reference,
                               add_special_tokens=False).input_ids
        prompts.append(prompt)
        full_ids.append(prompt_ids + answer_ids)
        answer_starts.append(len(prompt_ids) - 1)  # the position whose prediction is the first answer token
    return prompts, full_ids, answer_starts


def compare_read_back(merged, tokenizer, paths: dict, prompts, full_ids, answer_starts) -> dict:
    """Every file read back by transformers, run on the same ids as the merged model (one merged pass for all)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    first = next(iter(paths.values()))  # the tokenizer metadata is the same in every format
    file_tokenizer = AutoTokenizer.from_pretrained(str(first.parent), gguf_file=first.name)
    same_ids = sum(file_tokenizer(prompt, add_special_tokens=False).input_ids
                   == tokenizer(prompt, add_special_tokens=False).input_ids for prompt in prompts)
    file_models = {gguf_type: AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                                   dtype=torch.float32).eval()
                   for gguf_type, path in paths.items()}
    results = {gguf_type: {"file_mib": round(path.stat().st_size / 2**20, 1), "max_abs_logit_diff": 0.0, "agree": 0,
                           "answer_agree": 0, "first_agree": 0, "tokenizer_same_ids": f"{same_ids}/{len(prompts)}",
                           "chat_template_kept": file_tokenizer.chat_template == tokenizer.chat_template}
               for gguf_type, path in paths.items()}
    positions = answer_positions = 0
    with torch.no_grad():
        for number, (ids, start) in enumerate(zip(full_ids, answer_starts), 1):
            inputs = torch.tensor([ids])
            want = merged(inputs).logits[0]
            positions += len(ids)
            # from the first answer token to the end (the last position predicts past it)
            answer_positions += len(ids) - start - 1
            for gguf_type, file_model in file_models.items():
                got = file_model(inputs).logits[0]
                result = results[gguf_type]
                result["max_abs_logit_diff"] = max(result["max_abs_logit_diff"], (want - got).abs().max().item())
                matches = want.argmax(-1) == got.argmax(-1)
                result["agree"] += int(matches.sum())
                result["answer_agree"] += int(matches[start:-1].sum())
                result["first_agree"] += int(matches[start])
            print(f"[check] {number}/{len(full_ids)} conversations compared", end="\r", flush=True)
    print()
    for result in results.values():
        result["max_abs_logit_diff"] = round(result["max_abs_logit_diff"], 4)
        result["next_token_agreement"] = round(result.pop("agree") / positions, 4)
        result["positions"] = positions
        result["answer_token_agreement"] = round(result.pop("answer_agree") / answer_positions, 4)
        result["answer_positions"] = answer_positions
        result["first_answer_token_agreement"] = f"{result.pop('first_agree')}/{len(full_ids)}"
    return results


def compare_llama_cpp(merged, tokenizer, path: Path, prompts, max_new_tokens: int) -> dict:
    """Greedy answers of llama.cpp (from the file) against those of the merged transformers model."""
    import llama_cpp
    import torch

    from ftkit.formatting import stop_token_ids

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=2, verbose=False)
    stops = set(stop_token_ids(tokenizer))
    same = same_ids = 0
    for prompt in prompts:
        ids = tokenizer(prompt, add_special_tokens=False).input_ids
        same_ids += llm.tokenize(prompt.encode(), add_bos=False, special=True) == ids
        with torch.no_grad():
            generated = merged.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False,
                                        eos_token_id=list(stops), pad_token_id=tokenizer.pad_token_id)
            expected = generated[0, len(ids):].tolist()
        got = []
        for token in llm.generate(ids, temp=0.0, top_k=1, reset=True):
            got.append(token)
            if token in stops or len(got) >= max_new_tokens:
                break
        same += got == expected
    return {"llama_cpp_same_answer": f"{same}/{len(prompts)}",
            "llama_cpp_tokenizer_same_ids": f"{same_ids}/{len(prompts)}"}


def report(results: dict) -> None:
    header = ["format", "file MiB", "max abs logit diff", "next-token agreement, all positions", "on the answer tokens",
              "at the first answer token", "tokenizer ids", "llama.cpp answers"]
    rows = [[gguf_type, result["file_mib"], result["max_abs_logit_diff"],
             f"{result['next_token_agreement']} ({result['positions']})",
             f"{result['answer_token_agreement']} ({result['answer_positions']})",
             result["first_answer_token_agreement"], result["tokenizer_same_ids"],
             f"{result.get('llama_cpp_same_answer', 'not installed')} "
             f"(tokenizer {result.get('llama_cpp_tokenizer_same_ids', '-')})"] for gguf_type, result in results.items()]
    print("\n" + markdown_table(header, rows))
    kept = all(result["chat_template_kept"] for result in results.values())
    print(f"chat template read back unchanged from every file: {kept}")


if __name__ == "__main__":
    run_cli(main, Settings)
