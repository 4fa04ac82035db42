"""Model cards: the README.md of a run folder, of a merged model and beside a GGUF export, written by the kit.

A card is built from what the run folder records (run.json, train_metrics.json, adapter_config.json,
metrics.json when `v1_000_eval.py` ran, loss_curve.png) and from the base model's folder (its SOURCE.txt when
the kit built it): the base model, the task and data (files, sample counts, sha256), the settings that matter,
the losses, generation metrics when measured, the loss curve, how to load and convert it, and the licences of
the base model and of the data. Its YAML header is Hugging Face model-card metadata (`base_model`,
`library_name`, `license`, `pipeline_tag`, `tags`; `datasets` only for data named by a Hub id), so the folder
can be pushed to the Hub as it is.

Paths are shown relative to the repository (`src/output/<run>`, `tmp_docker/dataset/train.jsonl`); any other
path is shown by its file name only, so no private absolute path ends up in a card.

`write_model_card(run_dir)` is called by the training script when it saves a run (it replaces peft's empty
template); `refresh_model_card(run_dir)` writes it again later, after an evaluation added metrics.json, and
leaves alone a README.md that a person wrote instead.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .text_tables import markdown_table

CARD_FILE = "README.md"
CARD_MARK = "<!-- written by ftkit (src/ftkit/model_card.py); refresh_model_card() rewrites it -->"
PEFT_TEMPLATE_MARK = "[More Information Needed]"

# The packaged base models (ftkit.base_model.PACKAGED_MODELS) and the Hub model each one is a copy of.
PACKAGED_HUB_IDS = {"gemma-3-270m": "google/gemma-3-270m",
                    "smollm2-135m-instruct": "HuggingFaceTB/SmolLM2-135M-Instruct"}

GEMMA_TERMS = "https://ai.google.dev/gemma/terms"
GEMMA_POLICY = "https://ai.google.dev/gemma/prohibited_use_policy"
# (Hub id pattern, licence id of the Hub's model-card metadata, licence name). First match wins.
HUB_LICENCES = (
    (r"^google/(gemma|medgemma|codegemma|paligemma)", "gemma", "Gemma Terms of Use"),
    (r"^HuggingFaceTB/SmolLM", "apache-2.0", "Apache License 2.0"),
    (r"^Qwen/Qwen3-", "apache-2.0", "Apache License 2.0"),
    (r"^Qwen/Qwen2\.5-(0\.5B|1\.5B|7B|14B|32B)(-|$)", "apache-2.0", "Apache License 2.0"),
    (r"^TinyLlama/", "apache-2.0", "Apache License 2.0"),
    (r"^meta-llama/Llama-3\.2-", "llama3.2", "Llama 3.2 Community License"),
    (r"^meta-llama/(Meta-)?Llama-3\.1-", "llama3.1", "Llama 3.1 Community License"),
    (r"^meta-llama/Meta-Llama-3-", "llama3", "Llama 3 Community License"),
)

# Bundled data files (under tmp_docker/dataset/, also in sub-folders such as tmp_docker/dataset/large/ that the
# generator writes): where they come from and the notice that goes with them.
GENERATED = ("synthetic Japanese news-style texts written by `src/v1_000_make_dataset.py` (seeded); every combination "
             "of surname and given name is invented. The Japanese names come from japanese-personal-name-dataset 0.4.0 "
             "(MIT License) and Faker `ja_JP`; notice: `tmp_docker/dataset/NAMES_NOTICE.md`")
GENERAL = ("conversations converted from chatterbot-corpus 1.3.3 by `src/v1_000_make_general_data.py` (BSD 3-Clause "
           "License); notice: `tmp_docker/dataset/GENERAL_DATA_NOTICE.md`")
BUNDLED_DATA = {
    "train.jsonl": GENERATED,
    "validation.jsonl": GENERATED,
    "general_rehearsal.jsonl": GENERAL,
    "general_heldout.jsonl": GENERAL,
    "realistic_test.jsonl": "sentences written by hand for the kit, annotated by the task's guideline (README)",
    "realistic_test_hard.jsonl": ("sentences written by hand for the kit; notice: "
                                  "`tmp_docker/dataset/REALISTIC_TEST_HARD.md`"),
}
DATA_ROLES = {"train_file": "training", "validation_file": "validation", "rehearsal_file": "rehearsal (general data)",
              "forgetting_file": "held out (forgetting measured, never trained on)"}

BUNDLED_TASK = ("Extracting the persons (real individuals) named in a Japanese news text and their addresses, as JSON: "
                '`{"persons": [{"name": …, "address": …}]}`, every person once, in order of first appearance, '
                'the address only where the text gives that person\'s residence, `{"persons": []}` when nobody '
                'is named (the bundled '
                "task of the kit; its annotation guideline is in the kit's README).")
METRIC_ROWS = ("json_parse_rate", "schema_ok_rate", "person_presence_f1", "name_set_f1", "address_set_f1",
               "name_exact_match_rate", "address_exact_match_rate", "all_fields_exact_match_rate",
               "fp_rate_on_negative")


# ---- paths ---------------------------------------------------------------------------------------------------


def shown_path(text) -> str:
    """A path as a card shows it: relative to the repository when inside it, else only its last part."""
    from .runs import portable_path

    if not text:
        return ""
    text = str(text)
    portable = portable_path(text) if is_private(text) else text
    return re.split(r"[\\/]", portable.rstrip("/\\"))[-1] if is_private(portable) else portable


def hide_paths(text: str) -> str:
    """`text` with every absolute or home path in it replaced as shown_path does (for free text such as SOURCE.txt)."""
    return re.sub(r"(?<![\w.:/])(?:~|/|[A-Za-z]:\\)[^\s,;()'\"]*", lambda match: shown_path(match.group(0)), text)


def command_path(folder: Path, name: str) -> str:
    """How the commands of a card name a folder: `src/output/<name>` inside the repository, else `path/to/<name>`."""
    from .runs import portable_path

    parent = portable_path(Path(folder).resolve().parent)
    return f"path/to/{name}" if is_private(parent) else f"{parent}/{name}"


def is_private(text: str) -> bool:
    """Whether a recorded path is absolute or under the home folder (not relative to the repository)."""
    return str(text).startswith(("/", "~", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", str(text)))


# ---- what a run folder records ---------------------------------------------------------------------------------


@dataclass
class BaseModel:
    hub_id: str | None  # the Hub model the weights are (a copy of), when known
    shown: str  # how the card names it
    built_from: str | None  # what the kit built the local folder from (SOURCE.txt), paths hidden
    model_type: str | None
    licence_id: str | None  # Hub metadata licence id, None when unknown
    licence_name: str | None


@dataclass
class DataFile:
    role: str
    shown: str
    sha256: str
    records: int | None  # None when the file is not here any more, or changed since the run
    changed: bool
    origin: str | None  # for bundled files: where they come from, with their notice
    hub_id: str | None = None  # the Hub data set, without its split
    system_prompts: set = field(default_factory=set)


@dataclass
class RunInfo:
    name: str
    folder: Path
    settings: dict
    metrics: dict
    adapter_config: dict
    evaluations: dict  # metrics.json
    libraries: dict
    python: str | None
    git_commit: str | None
    base: BaseModel
    data: list


def read_json(path: Path) -> dict:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def read_run(run_dir: str | Path, name: str | None = None) -> RunInfo:
    """Everything a card says about the run in `run_dir` (missing files give empty parts, never an error)."""
    from .runs import INCOMPLETE_PREFIX

    run_dir = Path(run_dir)
    folder_name = run_dir.resolve().name
    name = name or (folder_name[len(INCOMPLETE_PREFIX):] if folder_name.startswith(INCOMPLETE_PREFIX) else folder_name)
    run = read_json(run_dir / "run.json")
    adapter_config = read_json(run_dir / "adapter_config.json")
    settings = run.get("settings") or {}
    return RunInfo(name=name, folder=run_dir, settings=settings, metrics=read_json(run_dir / "train_metrics.json"),
                   adapter_config=adapter_config, evaluations=read_json(run_dir / "metrics.json"),
                   libraries=run.get("libraries") or {}, python=run.get("python"), git_commit=run.get("git_commit"),
                   base=describe_base_model(adapter_config.get("base_model_name_or_path") or settings.get("model")
                                            or ""),
                   data=describe_data(settings, run.get("data_sha256") or {}))


def describe_base_model(recorded: str) -> BaseModel:
    """What the base model named in adapter_config.json is: its Hub id, what its local folder was built from,
    its architecture and licence."""
    from .base_model import is_hub_id, packaged_model_dir
    from .runs import local_path

    recorded = str(recorded or "")
    hub_id = built_from = None
    folder = None
    packaged = packaged_model_dir(recorded) if recorded else None
    if packaged is not None:
        folder, hub_id = packaged, PACKAGED_HUB_IDS.get(packaged.name)
    elif recorded and local_path(recorded).is_dir():
        folder = local_path(recorded)
    elif recorded and is_hub_id(recorded):
        hub_id = recorded
    if folder is not None and (folder / "SOURCE.txt").is_file():
        built_from = hide_paths((folder / "SOURCE.txt").read_text(encoding="utf-8", errors="replace").strip())
    config = read_json(folder / "config.json") if folder is not None else hub_config(hub_id)
    model_type = config.get("model_type")
    licence_id, licence_name = base_licence(hub_id, model_type)
    if hub_id:
        shown = hub_id
    elif folder is not None:
        shown = shown_path(folder.resolve()) if folder.is_absolute() else str(folder)
        shown = shown or folder.name
    else:
        shown = shown_path(recorded) or "unknown (not recorded in adapter_config.json)"
    return BaseModel(hub_id, shown, built_from, model_type, licence_id, licence_name)


def hub_config(hub_id: str | None) -> dict:
    """config.json of a Hub model from the local cache, without the network; {} when not cached."""
    if not hub_id:
        return {}
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(hub_id, "config.json")
    except Exception:
        return {}
    return read_json(Path(cached)) if isinstance(cached, str) else {}


def base_licence(hub_id: str | None, model_type: str | None) -> tuple[str | None, str | None]:
    """(Hub licence id, licence name) of the base model: by its Hub id, and any Gemma by its architecture."""
    for pattern, licence_id, licence_name in HUB_LICENCES:
        if hub_id and re.search(pattern, hub_id):
            return licence_id, licence_name
    if (model_type or "").startswith("gemma"):
        return "gemma", "Gemma Terms of Use"
    return None, None


def describe_data(settings: dict, checksums: dict) -> list[DataFile]:
    """The run's data (every `*_file` setting that run.json has a checksum of, or that names a Hub data set), with
    the sample counts of a file still here unchanged."""
    from .data import HUB_DATASET
    from .runs import local_path
    from .settings import file_sha256

    files = []
    for key, value in settings.items():
        if not key.endswith("_file") or not value:
            continue
        recorded = str(value)
        sha256 = checksums.get(recorded, "")
        path = local_path(recorded)
        records, changed, prompts = None, False, set()
        if path.is_file():
            changed = bool(sha256) and file_sha256(path) != sha256
            if not changed:
                records, prompts = count_records(path)
        shown = shown_path(recorded)
        origin = None
        if shown.startswith("tmp_docker/dataset/") and Path(shown).name in BUNDLED_DATA:
            origin = BUNDLED_DATA[Path(shown).name]
        # A Hub data set is recorded as it was given, "owner/name" or "owner/name[split]"; the metadata wants the
        # data set alone. A data file name that looks like one ("data/train.jsonl", never read) is no data set.
        hub = HUB_DATASET.match(recorded) if not path.exists() and not sha256 else None
        hub_id = hub["dataset"] if hub and not hub["dataset"].endswith((".json", ".jsonl")) else None
        if not sha256 and not hub_id:
            continue  # a setting that names no data the run read (such as a skipped validation file)
        files.append(DataFile(DATA_ROLES.get(key, key), shown, sha256, records, changed, origin, hub_id, prompts))
    return files


def count_records(path: Path) -> tuple[int | None, set]:
    """(records in a data file, the system prompts its chat records use); (None, set()) when it cannot be read."""
    from .data import load_samples
    from .errors import KitError

    try:
        samples = load_samples(path)
    except (KitError, OSError, ValueError):
        return None, set()
    prompts = set()
    for sample in samples:
        if sample.schema == "chat":
            first = sample.messages[0] if sample.messages else {}
            prompts.add(first.get("content") if first.get("role") == "system" else None)
    return len(samples), prompts


def training_system_prompt(info: RunInfo) -> str | None:
    """The system prompt every training sample starts with, when they share one."""
    for data in info.data:
        if data.role == "training" and len(data.system_prompts) == 1:
            return next(iter(data.system_prompts))
    if not any(data.role == "training" and data.records is not None for data in info.data):
        # the file is gone: the bundled training file always carried the bundled task's prompt
        from .task import EXTRACTION_SYSTEM_PROMPT

        if any(data.role == "training" and data.origin == GENERATED for data in info.data):
            return EXTRACTION_SYSTEM_PROMPT
    return None


# ---- the card ---------------------------------------------------------------------------------------------------


def metadata_yaml(info: RunInfo, library_name: str, extra_tags: tuple = ()) -> str:
    from huggingface_hub import ModelCardData

    from .task import EXTRACTION_SYSTEM_PROMPT

    tags = ["lora", "sft", "ftkit"] + (["qlora"] if info.settings.get("qlora") else []) + list(extra_tags)
    values = dict(library_name=library_name, pipeline_tag="text-generation", tags=tags)
    if info.base.hub_id:
        values["base_model"] = info.base.hub_id
    values["license"] = info.base.licence_id or "other"
    if not info.base.licence_id:
        values["license_name"] = "same-as-base-model"
    datasets = list(dict.fromkeys(data.hub_id for data in info.data if data.hub_id))  # two splits: one data set
    if datasets:
        values["datasets"] = datasets
    if training_system_prompt(info) == EXTRACTION_SYSTEM_PROMPT:
        values["language"] = ["ja"]
    return ModelCardData(**values).to_yaml()


def number(value, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def base_section(info: RunInfo) -> list[str]:
    base = info.base
    lines = ["## Base model", ""]
    if base.hub_id:
        lines.append(f"[{base.hub_id}](https://huggingface.co/{base.hub_id})"
                     + (f" ({base.model_type})" if base.model_type else "") + ".")
    else:
        lines.append(f"A local model directory, `{base.shown}`" + (f" ({base.model_type})" if base.model_type else "")
                     + "; it has no Hugging Face Hub id that the kit knows.")
    if base.built_from:
        lines += ["", f"The kit trained on a folder it built itself "
                      f"(`{base.shown if not base.hub_id else packaged_folder(base)}`): "
                  + base.built_from.replace("\n", " ")]
        if base.hub_id and "dequantized" in base.built_from:
            lines.append(f"The adapter loads on the original `{base.hub_id}` as well (same architecture and shapes); "
                         "the numbers below were measured on the copy it was trained on.")
    return lines + [""]


def packaged_folder(base: BaseModel) -> str:
    name = next((folder for folder, hub in PACKAGED_HUB_IDS.items() if hub == base.hub_id), "")
    return f"tmp_docker/models/{name}" if name else base.shown


def data_section(info: RunInfo) -> list[str]:
    from .task import EXTRACTION_SYSTEM_PROMPT

    system = training_system_prompt(info)
    lines = ["## Task and data", ""]
    if system == EXTRACTION_SYSTEM_PROMPT:
        lines.append(BUNDLED_TASK)
    elif not info.data:
        lines.append("Not recorded: the adapter folder has no run.json naming its data.")
    else:
        lines.append("Supervised fine-tuning on the data below (loss on the assistant's answers"
                     + (", and on the prompts too" if info.settings.get("train_on_all_tokens") else "") + ").")
    if system:
        lines += ["", f"System prompt of every training sample (use it at inference too): `{system}`"]
    if info.data:
        rows = []
        for data in info.data:
            count = (str(data.records) if data.records is not None else "Hub data set" if data.hub_id
                     else "changed since the run" if data.changed else "not here")
            rows.append([data.role, f"`{data.shown}`", count, f"`{data.sha256 or 'n/a'}`"])
        lines += ["", markdown_table(["data", "file", "samples", "sha256"], rows, align="llrl")]
        used = info.metrics.get("train_samples")
        skipped = (info.metrics.get("samples_over_max_seq_len") or {}).get("train")
        if used is not None:
            lines += ["", f"Trained on {used} samples" + (f" ({skipped} over --max_seq_len were "
                                                          f"{info.settings.get('too_long', 'skip')}ped)"
                                                        if skipped else "") + "."]
    return lines + [""]


def settings_section(info: RunInfo) -> list[str]:
    s, config, m = info.settings, info.adapter_config, info.metrics
    targets = config.get("target_modules")
    if isinstance(targets, (list, tuple)):
        targets = ", ".join(sorted(targets))
    parameters = config.get("target_parameters")
    if parameters:
        targets = (f"{targets}; parameters "
                   f"{', '.join(parameters) if isinstance(parameters, (list, tuple)) else parameters}")
    micro = s.get("micro_batch_tokens") or s.get("max_seq_len")
    precision = s.get("precision", "n/a")
    if s.get("qlora"):
        precision = f"4-bit NF4 base (QLoRA, double quantization), {precision} compute"
    if (s.get("max_steps") or -1) > 0:
        schedule = f"--max_steps {s['max_steps']}"
    else:
        schedule = f"{s.get('epochs')} epoch(s)"
    rows = [
        ("LoRA rank r / alpha / dropout", f"{config.get('r', s.get('lora_r'))} / "
                                          f"{config.get('lora_alpha', s.get('lora_alpha'))} / "
                                          f"{config.get('lora_dropout', s.get('lora_dropout'))}"),
        ("LoRA targets", f"{targets or s.get('lora_target_modules')}"),
        ("learning rate", f"{s.get('learning_rate')} peak, cosine to {s.get('min_learning_rate', 0)} after "
                          f"{s.get('warmup_ratio')} warmup; AdamW, weight decay {s.get('weight_decay')}, "
                          f"gradient clipping {s.get('max_grad_norm')}"),
        ("schedule", f"{schedule}: {m.get('optimizer_steps', 'n/a')} optimizer steps"
                     + (f", adapter of step {m['kept']['step']} kept (--keep {m['kept']['which']}"
                        + (f", by {s.get('metric_for_best') or 'validation_loss'}"
                           if m["kept"].get("which") == "best" else "")
                        + ")" if m.get("kept") else "")),
        ("batch", f"{micro} tokens per micro-batch x {s.get('gradient_accumulation')} accumulation x "
                  f"{m.get('processes', 1)} process(es) = {m.get('effective_batch_tokens', 'n/a')} tokens per step; "
                  f"rows of up to {s.get('max_seq_len')} tokens, "
                  + ("packed" if s.get("packing", True) else "padded")),
        ("precision", precision),
        ("loss on", "every token" if s.get("train_on_all_tokens") else "the answers only"),
        ("seed", s.get("seed")),
    ]
    variants = [(key, s[key]) for key in ("use_dora", "use_rslora", "lora_init", "loraplus_lr_ratio",
                                          "neftune_noise_alpha",
                                          "early_stopping_patience", "eval_every", "eval_generate",
                                          "distill_lambda", "distill_temperature", "rehearsal_ratio")
                if s.get(key) not in (None, False, "", 0, 0.0, "default")]
    if variants:
        rows.append(("also", ", ".join(f"--{key} {value}" for key, value in variants)))
    if not s:  # an adapter not trained by the kit: only what adapter_config.json says
        rows = rows[:2]
    lines = ["## Training", "", markdown_table(["setting", "value"], rows, align="ll")]
    if not s:
        lines += ["", "The other settings are not recorded (the adapter folder has no run.json)."]
    return lines + [""]


def results_section(info: RunInfo, with_picture: bool = True) -> list[str]:
    m = info.metrics
    lines = ["## Results", ""]
    if m:
        speed = f"{number(m.get('train_seconds'), 1)} s ({number(m.get('tokens_per_second'), 1)} tokens/s)"
        rows = [("final train loss", number(m.get("final_train_loss"))),
                ("validation loss", number(m.get("validation_loss"))),
                ("optimizer steps", m.get("optimizer_steps", "n/a")),
                ("training tokens", m.get("train_tokens", "n/a")),
                ("training time", speed)]
        lines += [markdown_table(["measure", "value"], rows), ""]
    else:
        lines += ["No train_metrics.json was found beside the adapter.", ""]
    generation = m.get("generation_metrics")
    if generation:
        lines += [f"Generation metrics at the end of training, greedy answers to the first {generation.get('samples')} "
                  "validation samples (definitions in the kit's README, `v1_000_eval.py`):", "",
                  markdown_table(["metric", "value"], [(key, number(generation[key], 3))
                                                       for key in METRIC_ROWS if key in generation]), ""]
    for stem, entry in (info.evaluations or {}).items():
        if not isinstance(entry, dict):
            continue
        columns = [key for key, value in entry.items() if isinstance(value, dict)]
        if not columns:
            continue
        samples = next((entry[c].get("samples") for c in columns if entry[c].get("samples")), "?")
        rows = [[key, *(number(entry[c].get(key), 3) for c in columns)]
                for key in METRIC_ROWS if any(key in entry[c] for c in columns)]
        lines += [f"Evaluation on `{shown_path(entry.get('eval_file') or stem)}` "
                  f"({samples} samples, `src/v1_000_eval.py`):", "",
                  markdown_table(["metric", *columns], rows), ""]
    if not generation and not info.evaluations:
        lines += ["Generation metrics were not measured (train with `--eval_generate N`, or run `src/v1_000_eval.py` "
                  "on this folder and then `refresh_model_card`).", ""]
    if with_picture and (info.folder / "loss_curve.png").is_file():
        lines += ["![Training and validation loss per optimizer step](loss_curve.png)", ""]
    return lines


def usage_section(info: RunInfo) -> list[str]:
    where = command_path(info.folder, info.name)
    base = info.base.hub_id or "path/to/base-model"
    system = training_system_prompt(info)
    system_line = f'    {{"role": "system", "content": {json.dumps(system, ensure_ascii=False)}}},\n' if system else ""
    script = "v1_000_lora_lwf_finetune.py" if "distill_lambda" in info.settings else "v1_000_lora_finetune.py"
    return ["## How to use it", "",
            "With peft and transformers (the tokenizer saved here carries the chat template training used):", "",
            "```python",
            "from peft import PeftModel",
            "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
            f'base = AutoModelForCausalLM.from_pretrained("{base}")',
            (f'model = PeftModel.from_pretrained(base, "{where}")  # this folder, or the Hub repository '
             'it was pushed to'),
            f'tokenizer = AutoTokenizer.from_pretrained("{where}")',
            "messages = [\n" + system_line + '    {"role": "user", "content": "..."},\n]',
            ('inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", '
             'return_dict=True)'),
            "output = model.generate(**inputs, max_new_tokens=256, do_sample=False)",
            'print(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))',
            "```", "",
            "With the kit (from its repository root):", "",
            "```bash",
            f'python src/v1_000_infer.py --adapter {where} "..."        # greedy answer, streamed',
            f"python src/v1_000_eval.py --adapter {where}               # generation metrics, into metrics.json",
            f"python src/v1_000_merge.py --adapter {where}              # a standalone model: {info.name}-merged/",
            (f"python src/v1_000_export_gguf.py --adapter {where}        # {info.name}-q8_0.gguf "
             "and its Ollama Modelfile"),
            f"ollama create {ollama_name(info.name)} -f {where}-q8_0.Modelfile",
            f"python src/{script} --config {where}/config.yml      # the same run again",
            "```", ""]


def ollama_name(run_name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", run_name.lower()).strip("-.") or "ftkit-model"


def licence_section(info: RunInfo, what: str = "This adapter") -> list[str]:
    base = info.base
    lines = ["## Licence", ""]
    if base.licence_id == "gemma":
        lines.append(f"The base model is Gemma. Gemma is provided under and subject to the Gemma Terms of Use found at "
                     f"{GEMMA_TERMS}. {what} is a Model Derivative of Gemma under those terms: whoever shares it "
                     f"must pass on their use restrictions (the Gemma Prohibited Use Policy, {GEMMA_POLICY}) "
                     "and a copy of the terms, "
                     "and say that the model was modified (this card does: it was fine-tuned with LoRA, see Training).")
    elif base.licence_id:
        lines.append(f"The base model `{base.shown}` is released under the {base.licence_name} "
                     f"(`{base.licence_id}`); the "
                     f"metadata above gives {what.lower()} the same licence.")
    else:
        lines.append(f"The kit does not know the licence of the base model `{base.shown}`: "
                     f"{what.lower()} is bound by it. "
                     "The metadata says `license: other`; put the base model's licence there before publishing.")
    bundled = [data for data in info.data if data.origin]
    other = [data for data in info.data if not data.origin]
    if bundled:
        lines += ["", "Data:"]
        for origin in dict.fromkeys(data.origin for data in bundled):  # one line per origin, in the order of the files
            files = ", ".join(f"`{data.shown}` ({data.role})" for data in bundled if data.origin == origin)
            lines.append(f"- {files}: {origin}.")
    if other:
        lines += ["", "Data not bundled with the kit (" + ", ".join(f"`{data.shown}`" for data in other)
                  + "): its licence is not recorded in the run; state it before publishing."]
    return lines + [""]


def provenance_section(info: RunInfo) -> list[str]:
    libraries = ", ".join(f"{name} {version}" for name, version in sorted(info.libraries.items()))
    lines = ["## Provenance", "",
             f"Trained with ftkit, run `{info.name}`"
             + (f", commit `{info.git_commit}`" if info.git_commit else "") + "."]
    if libraries:
        lines.append(f"Python {info.python or '?'}; {libraries}.")
    lines.append("The run folder also holds `config.yml` (every setting), "
                 "`run.json` (settings, versions, data checksums) "
                 "and `train_metrics.json` (losses per step).")
    return lines + [""]


def run_card_text(run_dir: str | Path, name: str | None = None) -> str:
    """The model card of a run folder (an adapter), as README.md text."""
    info = read_run(run_dir, name)
    body = [CARD_MARK, "", f"# {info.name}", "",
            f"A LoRA adapter for `{info.base.shown}`, fine-tuned with the ftkit kit"
            + (" (QLoRA: 4-bit base)" if info.settings.get("qlora") else "") + ".", ""]
    body += base_section(info) + data_section(info) + settings_section(info) + results_section(info)
    body += usage_section(info) + licence_section(info) + provenance_section(info)
    return finish_card(metadata_yaml(info, "peft"), body)


def finish_card(yaml_text: str, body: list) -> str:
    from . import REPO_ROOT

    text = f"---\n{yaml_text.strip()}\n---\n\n" + "\n".join(body).rstrip() + "\n"
    # A last guard: no absolute path of this machine (the repository or the home folder) in a card.
    for root, shown in ((str(Path(REPO_ROOT).resolve()), "."), (str(Path.home().resolve()), "~")):
        if len(root) > 1:
            text = text.replace(root + "/", "" if shown == "." else "~/").replace(root, shown)
    return text


def write_model_card(run_dir: str | Path, name: str | None = None) -> Path:
    """Write the run folder's README.md (replacing peft's empty template); returns its path."""
    from .files import write_text_atomic

    path = Path(run_dir) / CARD_FILE
    write_text_atomic(path, run_card_text(run_dir, name))
    return path


def refresh_model_card(run_dir: str | Path) -> Path | None:
    """Write the card of a finished run again (after `v1_000_eval.py` added metrics.json, say). A README.md that the
    kit did not write (no mark of the kit or of peft's template) is left as it is, and so is a folder that holds
    no adapter (the ginza baseline's results, say): returns None then."""
    from .runs import ADAPTER_FILE

    if not (Path(run_dir) / ADAPTER_FILE).is_file():
        return None
    path = Path(run_dir) / CARD_FILE
    if path.is_file():
        existing = path.read_text(encoding="utf-8", errors="replace")
        if CARD_MARK not in existing and PEFT_TEMPLATE_MARK not in existing:
            return None
    return write_model_card(run_dir)


# ---- merged models and GGUF files -------------------------------------------------------------------------------


def merged_card_text(adapter_dir: str | Path, merged_name: str, dtype: str) -> str:
    """README.md of a merged model folder: the adapter's card, as a standalone transformers model."""
    info = read_run(adapter_dir)
    where = f"path/to/{merged_name}"
    body = [CARD_MARK, "", f"# {merged_name}", "",
            f"`{info.base.shown}` with the LoRA adapter `{info.name}` merged into its weights ({dtype}), by the ftkit "
            "kit's `src/v1_000_merge.py`: a standalone model, no peft needed.", "",
            "```python",
            "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
            f'model = AutoModelForCausalLM.from_pretrained("{where}")  # this folder, or its Hub repository',
            f'tokenizer = AutoTokenizer.from_pretrained("{where}")  # with the chat template training used',
            "```", ""]
    system = training_system_prompt(info)
    if system:
        body += [f"Ask it with the system prompt it was trained on: `{system}`", ""]
    body += base_section(info) + data_section(info) + settings_section(info) + results_section(info, with_picture=False)
    body += licence_section(info, "This merged model") + provenance_section(info)
    return finish_card(metadata_yaml(info, "transformers", ("merged",)), body)


def gguf_card_text(adapter_dir: str | Path, gguf_path: str | Path, gguf_type: str, modelfile_name: str | None,
                   system: str | None) -> str:
    """<name>.md beside a GGUF export: what the file is, how to run it, and the adapter's card in short."""
    info = read_run(adapter_dir)
    gguf_path = Path(gguf_path)
    size = gguf_path.stat().st_size if gguf_path.is_file() else 0
    formats = {"q8_0": "Q8_0 (8-bit blocks of 32 values; norms in fp32)", "bf16": "bf16 (norms in fp32)",
               "f16": "f16 (norms in fp32)"}
    body = [CARD_MARK, "", f"# {gguf_path.name}", "",
            f"`{info.base.shown}` with the LoRA adapter `{info.name}` merged in, as one GGUF file for llama.cpp, "
            f"Ollama and LM Studio: {formats.get(gguf_type, gguf_type)}, {size / 2**20:.0f} MiB, "
            "tokenizer and chat template inside. "
            "Written by the ftkit kit's `src/v1_000_export_gguf.py`.", "",
            "```bash"]
    if modelfile_name:
        body.append(f"ollama create {ollama_name(gguf_path.stem)} -f {modelfile_name}   # in this folder; "
                    f"then: ollama run {ollama_name(gguf_path.stem)}")
    body.append(f"llama-cli -m {gguf_path.name} --jinja --temp 0"
                + (f" -sys {json.dumps(system, ensure_ascii=False)}" if system else ""))
    body += ["```", ""]
    if system:
        body += [f"System prompt (the Modelfile's SYSTEM, used when a request brings none): `{system}`", ""]
    body += base_section(info) + data_section(info) + settings_section(info) + results_section(info, with_picture=False)
    body += licence_section(info, "This file") + provenance_section(info)
    return finish_card(metadata_yaml(info, "gguf", ("gguf",)), body)
