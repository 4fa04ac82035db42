"""Sweep training settings: a grid (or N random picks from it), one run folder per point, ranked side by side.

Run:
    python src/v1_000_sweep.py --grid "learning_rate=5e-5,1e-4,2e-4 lora_r=16,32"
    python src/v1_000_sweep.py --sweep_file src/configs/sweep_lr_rank.yml --random 4
    python src/v1_000_sweep.py --grid "learning_rate=1e-4,5e-4" --metric name_set_f1 --base_config run.yml
    python src/v1_000_sweep.py --sweep_file src/configs/sweep_lora_variants.yml --metric name_set_f1

Each point is a normal run of --script (default: v1_000_lora_finetune.py), started as its own process with a
config file made of --base_config, the sweep file's `base:` settings and the point's values, one after the
other (one per GPU at a time when there are several). A sweep file may list `points:` (each a mapping of
settings: one run each, such as one LoRA variant per point) instead of, or besides, a `grid:` (every point is
then run with every grid combination). Runs go to src/output/<date-time>_sweep/runs/.

After each run the sweep folder gets:
  - sweep.md and sweep.csv: the runs ranked by --metric (the names --metric_for_best of the training script
    takes: validation_loss, or a generation metric such as name_set_f1, which needs eval_generate in the run
    settings; final_train_loss too; lower or higher is better inferred from the name, or --greater_is_better),
    with the extraction metrics and the LwF script's text_forgetting beside it when the runs measured them;
  - loss_curves.png: every run's loss curve;
  - tradeoff.png, for runs that measured forgetting (LwF): forgetting against name F1, one point a run.
A failed run is listed with its error and the sweep goes on; Ctrl-C stops after saving the table of the
finished runs. The config path of the best run is printed at the end.
"""

import csv
import importlib.util
import io
import itertools
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from ftkit import DEFAULT_OUTPUT_ROOT, REPO_ROOT
from ftkit.cli import run_cli
from ftkit.data import read_text_file
from ftkit.errors import KitError
from ftkit.reporting import save_sweep_curves, save_tradeoff
from ftkit.files import write_text_atomic
from ftkit.runs import finished_runs
from ftkit.settings import check_type, read_config
from ftkit.text_tables import comma_list, markdown_table
from ftkit.validation import SELECTION_METRICS, check_metric, greater_is_better_for, is_generation_metric

# What --metric ranks by: the names --metric_for_best takes, and the final train loss.
SWEEP_METRICS = (*SELECTION_METRICS, "final_train_loss")


@dataclass
class Settings:
    grid: str = field(default="", metadata={"help": (
        "values to sweep: 'name=v1,v2 name2=v3,v4' (added to those of --sweep_file)")})
    sweep_file: str = field(default="", metadata={"help": (
        "YAML with `grid:` (name: [values]) and optionally `base:` (settings of every run)")})
    base_config: str = field(default="", metadata={"help": "YAML config of the training script, shared by every run"})
    script: str = field(default=str(REPO_ROOT / "src" / "v1_000_lora_finetune.py"), metadata={"help": (
        "training script to run")})
    random: int = field(default=0, metadata={"help": "run N points drawn from the grid instead of all of it (0: all)"})
    metric: str = field(default="validation_loss", metadata={"help": (
        "ranking measure: validation_loss, final_train_loss or a generation metric (name_set_f1, ...; needs "
        "eval_generate in the run settings), as --metric_for_best of the training script")})
    greater_is_better: bool | None = field(default=None, metadata={"help": (
        "true | false: whether a larger --metric ranks higher (default: inferred from the name; losses, error and "
        "false-positive rates lower, the rest higher)")})
    output_dir: str = field(default=str(DEFAULT_OUTPUT_ROOT), metadata={"help": "the sweep folder is made here"})
    seed: int = field(default=0, metadata={"help": "seed of --random"})


def training_settings_class(script: str):
    """The Settings dataclass of a training script, to check the sweep's names and values before any run."""
    path = Path(script)
    if not path.is_file():
        raise KitError(f"--script {script}: file not found")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Settings


def read_grid(settings: Settings, settings_class) -> tuple[dict, dict]:
    """(base settings, {name: [values]}) from --sweep_file and --grid, each value checked against the script."""
    import yaml

    base, grid = {}, {}
    if settings.sweep_file:
        if not Path(settings.sweep_file).is_file():
            raise KitError(f"--sweep_file {settings.sweep_file}: file not found")
        try:
            content = yaml.safe_load(read_text_file(settings.sweep_file)) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"{settings.sweep_file}:{mark.line + 1}" if mark else settings.sweep_file
            raise KitError(f"{where}: malformed YAML: {getattr(error, 'problem', None) or error}") from None
        if not isinstance(content, dict):
            raise KitError(f"{settings.sweep_file}: expected a mapping with 'grid' (and 'base'), "
                           f"got {type(content).__name__}")
        unknown = set(content) - {"base", "grid", "points"}
        if unknown:
            raise KitError(f"{settings.sweep_file}: unknown key(s) {sorted(unknown)}; "
                           "expected 'base', 'grid' and 'points'")
        base = dict(content.get("base") or {})
        grid = {name: values if isinstance(values, list) else [values]
                for name, values in (content.get("grid") or {}).items()}
        points = content.get("points") or []
        if not isinstance(points, list) or not all(isinstance(point, dict) or point is None for point in points):
            raise KitError(f"{settings.sweep_file}: 'points' should be a list of mappings of settings (one run each)")
        if points:  # one axis whose values are whole sets of settings
            grid = {POINTS: [dict(point or {}) for point in points], **grid}
    for item in settings.grid.replace(";", " ").split():
        name, _, text = item.partition("=")
        values = comma_list(text)
        if not values:
            raise KitError(f"--grid: '{item}' should look like name=value1,value2")
        grid[name] = [yaml.safe_load(value) for value in values]
    if not grid:
        raise KitError("nothing to sweep: give --grid 'name=v1,v2' or a --sweep_file with a grid")
    known = {f.name: f for f in fields(settings_class)}
    source = settings.sweep_file or "--grid"
    point_names = [name for point in grid.get(POINTS, []) for name in point]
    for name in [*base, *point_names, *(name for name in grid if name != POINTS)]:
        if name not in known:
            raise KitError(f"{source}: unknown setting '{name}' for {Path(settings.script).name}")
    # Checked and converted as the script will read them (YAML reads 5e-4 as text, say).
    base = {name: check_type(value, known[name], source) for name, value in base.items()}
    grid = {name: [{key: check_type(value, known[key], source) for key, value in point.items()} for point in values]
            if name == POINTS else [check_type(value, known[name], source) for value in values]
            for name, values in grid.items()}
    return base, grid


POINTS = "points"  # the grid axis of a sweep file's `points:` list


def flat(point: dict) -> dict:
    """A grid point with its `points:` entry (a mapping of settings) spread out among the other settings."""
    return {**point.get(POINTS, {}), **{key: value for key, value in point.items() if key != POINTS}}


def columns_of(grid: dict) -> list:
    """The settings the table shows, one column each: the grid's names, with those of the points' mappings."""
    names = [name for point in grid.get(POINTS, []) for name in point]
    return list(dict.fromkeys([*names, *(name for name in grid if name != POINTS)]))


def check_sweep_metric(settings: Settings, base: dict, grid: dict) -> None:
    """--metric is one the runs measure: one line before any run starts."""
    check_metric(settings.metric, "metric", known=SWEEP_METRICS)
    if is_generation_metric(settings.metric):
        values = [point.get("eval_generate", base.get("eval_generate", 0)) for point in grid.get(POINTS, [{}])]
        values += grid.get("eval_generate", [])
        if not any(isinstance(value, int) and value > 0 for value in values):
            raise KitError(f"--metric {settings.metric} needs eval_generate N in the run settings (base: or the grid), "
                           "so that the runs measure it")


def grid_points(grid: dict, count: int, seed: int) -> list[dict]:
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    if 0 < count < len(points):
        points = random.Random(seed).sample(points, count)
    return points


def point_name(index: int, point: dict) -> str:
    short = {"learning_rate": "lr", "lora_r": "r", "lora_alpha": "alpha", "lora_dropout": "dropout",
             "use_dora": "dora", "use_rslora": "rslora", "lora_init": "init-", "loraplus_lr_ratio": "loraplus",
             "neftune_noise_alpha": "neftune", "distill_lambda": "lambda", "distill_on": "kl-",
             "rehearsal_ratio": "rehearsal"}
    shown = lambda key, value: short.get(key, key) if value is True else f"{short.get(key, key)}{value}"
    return f"{index:02d}_" + ("_".join(shown(k, v) for k, v in flat(point).items()) or "plain")


def launch(settings: Settings, config_path: Path, log_path: Path, gpu: str | None, sweep_dir: Path):
    env = dict(os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {}))
    # All runs of the sweep in one MLflow store (each run's own --output_dir would give each a store of its own).
    env.setdefault("MLFLOW_TRACKING_URI", (sweep_dir / "mlruns").resolve().as_uri())
    env.setdefault("WANDB_DIR", str(sweep_dir.resolve()))  # --report_to wandb: <sweep folder>/wandb, one project
    log = open(log_path, "w", encoding="utf-8")
    return subprocess.Popen([sys.executable, settings.script, "--config", str(config_path)], stdout=log,
                            stderr=subprocess.STDOUT, env=env), log


def outcome(run_root: Path, log_path: Path, returncode: int, metric: str) -> dict:
    """Status, metric, losses and config of a finished (or failed) run."""
    runs = finished_runs(run_root)
    if returncode != 0 or not runs:
        lines = [line for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        return {"status": "failed", "error": (errors or lines or ["no output"])[-1][:300]}
    run_dir = runs[-1]
    metrics = json.loads((run_dir / "train_metrics.json").read_text(encoding="utf-8"))
    generation = metrics.get("generation_metrics") or {}
    forgetting = metrics.get("forgetting") or {}  # written by the LwF script
    value = metrics.get(metric)
    if value is None:
        value = generation.get(metric)
    shown = {key: source[key] for source, keys in ((generation, TASK_COLUMNS), (forgetting, ("text_forgetting",)))
             for key in keys if isinstance(source.get(key), (int, float))}
    return {"status": "ok", **shown, metric: value, "validation_loss": metrics["validation_loss"],
            "final_train_loss": metrics["final_train_loss"], "train_seconds": metrics.get("train_seconds"),
            "run_dir": str(run_dir),
            "config": str(run_dir / "config.yml"), "history": metrics["history"],
            "validation_points": [(point["step"], point["validation_loss"])
                                  for point in metrics.get("validation_during_training") or []]}


def ranked(results: list[dict], metric: str, greater_is_better: bool | None = None) -> list[dict]:
    """Finished runs with a value of `metric`, best first (the direction inferred from the name unless given),
    then the others."""
    greater = greater_is_better_for(metric, greater_is_better)
    scored = [r for r in results if r["status"] == "ok" and r.get(metric) is not None]
    scored.sort(key=lambda r: -r[metric] if greater else r[metric])
    return scored + [r for r in results if r not in scored]


# Extraction metrics shown beside the ranking metric when the runs measured them (eval_generate).
TASK_COLUMNS = ("json_parse_rate", "name_set_f1", "address_set_f1", "fp_rate_on_negative")


def write_tables(sweep_dir: Path, results: list[dict], grid: dict, metric: str,
                 greater_is_better: bool | None = None) -> None:
    present = [key for key in (*TASK_COLUMNS, "text_forgetting") if any(key in result for result in results)]
    measured = list(dict.fromkeys([metric, *present, "validation_loss", "final_train_loss", "train_seconds"]))
    columns = ["rank", "name", *columns_of(grid), "status", *measured, "config", "error"]
    rows = []
    for rank, result in enumerate(ranked(results, metric, greater_is_better), start=1):
        ok = result["status"] == "ok" and result.get(metric) is not None
        rows.append({"rank": rank if ok else "", "name": result["name"], **flat(result["point"]),
                     "status": result["status"],
                     **{key: result.get(key, "") for key in (*measured, "config", "error")}})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(sweep_dir / "sweep.csv", buffer.getvalue())
    shown = lambda value: f"{value:.4f}" if isinstance(value, float) else str(value)
    cells = [[shown(row.get(c, "")) for c in columns] for row in rows]
    table = markdown_table(columns, cells, align="l" * len(columns))
    better = "higher" if greater_is_better_for(metric, greater_is_better) else "lower"
    write_text_atomic(sweep_dir / "sweep.md", f"Ranked by {metric} ({better} is better).\n\n{table}\n")
    save_sweep_curves([r for r in results if r["status"] == "ok"], sweep_dir / "loss_curves.png")
    traded = [r for r in results if "text_forgetting" in r and "name_set_f1" in r]
    if traded:  # LwF runs: what each setting keeps of the base model against what it gives the task
        save_tradeoff([(r["name"], r["text_forgetting"], r["name_set_f1"]) for r in traded], sweep_dir / "tradeoff.png")


def main(settings: Settings):
    # 1. The points: the sweep file's and --grid's settings, checked against the training script's before any run.
    settings_class = training_settings_class(settings.script)
    base = read_config(settings.base_config, settings_class) if settings.base_config else {}
    file_base, grid = read_grid(settings, settings_class)
    base.update(file_base)
    check_sweep_metric(settings, base, grid)
    points = grid_points(grid, settings.random, settings.seed)
    sweep_dir = Path(settings.output_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}_sweep"
    sweep_dir.mkdir(parents=True)
    print(f"[sweep] {len(points)} runs of {Path(settings.script).name} over {', '.join(columns_of(grid))} "
          f"-> {sweep_dir}")

    # 2. The runs, one process each (one per GPU at a time where there are several); the tables are rewritten
    # after each run, and Ctrl-C stops the running ones and keeps the table of the finished ones.
    gpus = gpu_ids()
    pending = list(enumerate(points, start=1))
    running, results = {}, []
    try:
        while pending or running:
            while pending and len(running) < max(1, len(gpus)):
                index, point = pending.pop(0)
                busy = {run["gpu"] for run in running.values()}
                gpu = next((gpu for gpu in gpus if gpu not in busy), None)
                process, run = start_run(settings, settings_class, base, sweep_dir, index, point, gpu)
                running[process] = run
                on_gpu = f" on GPU {gpu}" if gpu is not None else ""
                print(f"[sweep] run {index}/{len(points)}: {run['name']}{on_gpu}")
            for process in [p for p in running if p.poll() is not None]:
                results.append(finished_run(settings, running.pop(process), process.returncode))
                write_tables(sweep_dir, results, grid, settings.metric, settings.greater_is_better)
            time.sleep(0.5)
    except KeyboardInterrupt:
        for process, run in running.items():
            process.terminate()
            process.wait()
            run["log"].close()
        if results:
            write_tables(sweep_dir, results, grid, settings.metric, settings.greater_is_better)
        print(f"[sweep] stopped; the table of the {len(results)} finished runs is in {sweep_dir}")
        raise

    # 3. The best run, and how to repeat it.
    best = ranked(results, settings.metric, settings.greater_is_better)[0] if results else None
    print(f"[sweep] table: {sweep_dir / 'sweep.md'}; curves: {sweep_dir / 'loss_curves.png'}")
    if best and best["status"] == "ok" and best.get(settings.metric) is not None:
        print(f"[sweep] best by {settings.metric}: {best['name']} ({best[settings.metric]:.4f}); repeat it with:\n"
              f"    python {Path(settings.script).name} --config {best['config']}")
    return sweep_dir, results


def start_run(settings: Settings, settings_class, base: dict, sweep_dir: Path, index: int, point: dict, gpu):
    """Write the point's config into its run folder and start the training script on it; returns the process
    and what finished_run needs."""
    import yaml

    name = point_name(index, point)
    run_root = sweep_dir / "runs" / name
    run_root.mkdir(parents=True)
    config = {**base, **flat(point), "output_dir": str(run_root), "run_name": name}
    if "tracking_experiment" in {f.name for f in fields(settings_class)}:
        config["tracking_experiment"] = sweep_dir.name  # one experiment: the runs side by side
    config_path = run_root / "sweep_point.yml"
    write_text_atomic(config_path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    process, log = launch(settings, config_path, run_root / "log.txt", gpu, sweep_dir)
    return process, {"index": index, "name": name, "point": point, "run_root": run_root, "log": log, "gpu": gpu}


def finished_run(settings: Settings, run: dict, returncode: int) -> dict:
    """The result of a run whose process ended, said in one line."""
    run["log"].close()
    result = {"name": run["name"], "point": run["point"],
              **outcome(run["run_root"], run["run_root"] / "log.txt", returncode, settings.metric)}
    ok = result["status"] == "ok"
    shown = f"{settings.metric} {result.get(settings.metric)}" if ok else f"failed: {result['error']}"
    print(f"[sweep] run {run['index']} {run['name']}: {shown}")
    return result


def gpu_ids() -> list[str]:
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.device_count() > 1 else []
    except ImportError:
        return []


if __name__ == "__main__":
    run_cli(main, Settings)
