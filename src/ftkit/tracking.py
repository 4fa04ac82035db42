"""Experiment tracking: MLflow (a local file store by default), TensorBoard, Weights & Biases, or none (`--report_to`).

Every run already writes train_metrics.json and loss_curve.png into its own folder; a tracker puts the same
numbers where people compare many runs: parameters, per-step loss and learning rate, validation and generation
metrics, and the loss-curve picture as an artifact.

MLflow is driven through its client (`MlflowClient`), not the `mlflow.start_run()` globals, so that a notebook can
train twice in one process and a failed run is marked FAILED rather than left running. Weights & Biases is driven
through the run object `wandb.init` returns (a new one per run, `reinit="create_new"`), for the same reason.
"""

import contextlib
import functools
import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

from .errors import KitError, first_line, one_line
from .redaction import redact
from .text_tables import markdown_table

REPORT_TO_CHOICES = ("auto", "none", "mlflow", "tensorboard", "wandb")
# --report_to -> the package it needs (checked before anything loads) and how to install it
REPORT_TO_PACKAGES = {"mlflow": ("mlflow", "mlflow-skinny"), "tensorboard": ("tensorboard", "tensorboard"),
                      "wandb": ("wandb", "wandb")}


def never_fails(method):
    """Tracking must not decide a run's fate: a tracker error (a server gone, a full disk) is reported once, then
    the tracker goes quiet and the run carries on, and saves, as it would without it."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        if self.broken:
            return None
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            self.broken = True
            print(f"[tracking] {type(self).__name__} failed, no more tracking in this run: "
                  f"{redact(first_line(error))}", file=sys.stderr)
            return None

    return guarded


def numeric(metrics: dict) -> dict:
    return {key: float(value) for key, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


class Tracker:
    """Records nothing: the `--report_to none` tracker, and the interface of the others."""

    where = ""
    broken = False

    def log_params(self, params: dict) -> None: ...
    def log_metrics(self, metrics: dict, step: int) -> None: ...
    def log_artifact(self, path: Path) -> None: ...
    def close(self, status: str) -> None: ...  # FINISHED, FAILED or KILLED (interrupted)

    def log_step(self, record: dict) -> None:
        """One optimizer step's history record from the trainer (loss, its parts, learning rate, ...)."""
        metrics = {key: value for key, value in record.items() if key not in ("step", "seconds")}
        if record.get("seconds"):
            metrics["tokens_per_second"] = record["tokens"] / record["seconds"]
        self.log_metrics(metrics, record["step"])

    def log_results(self, metrics: dict) -> None:
        """A run's train_metrics.json: validation during training by step, final numbers at the last step."""
        for point in metrics.get("validation_during_training", []):
            self.log_metrics({k: v for k, v in point.items() if k != "step"}, point["step"])
        generation = metrics.get("generation_metrics") or {}
        final = {"final_train_loss": metrics.get("final_train_loss"),
                 "final_validation_loss": metrics.get("validation_loss"),
                 "tokens_per_second": metrics.get("tokens_per_second")}
        final.update({f"generation_{key}": value for key, value in generation.items()})
        self.log_metrics(final, metrics.get("optimizer_steps", 0))


def open_tracker(report_to: str, output_root: str | Path, experiment: str, run_name: str, log=print) -> Tracker:
    """The tracker `--report_to` asks for; 'auto' is MLflow when it is installed, else none.

    Starting is guarded like every later call: a store that cannot be reached or created (a server down, an
    `mlruns` that is a file, a bad URI) is reported in one line and the run goes on untracked. Only a missing
    package for an explicit --report_to is the user's error (checked before anything loads).
    """
    if report_to == "auto":
        report_to = "mlflow" if importlib.util.find_spec("mlflow") else "none"
    try:
        if report_to == "mlflow":
            tracker = MlflowTracker(Path(output_root) / "mlruns", experiment, run_name)
        elif report_to == "tensorboard":
            tracker = TensorBoardTracker(Path(output_root) / "tensorboard" / experiment / run_name)
        elif report_to == "wandb":
            tracker = WandbTracker(Path(output_root), experiment, run_name)
        else:
            return Tracker()
    except KitError:
        raise
    except Exception as error:
        if report_to == "mlflow":
            where = os.environ.get("MLFLOW_TRACKING_URI") or str(Path(output_root) / "mlruns")
        elif report_to == "wandb":
            where = f"W&B project '{experiment}' ({os.environ.get('WANDB_MODE') or 'online'})"
        else:
            where = str(Path(output_root) / "tensorboard")
        print(f"[tracking] could not start {report_to} at {redact(where)}, this run is not tracked: "
              f"{one_line(first_line(error))}", file=sys.stderr)
        return Tracker()
    log(f"[tracking] {report_to}: {redact(tracker.where)}")
    return tracker


@contextlib.contextmanager
def quick_first_requests():
    """A server that does not answer at the start costs seconds, not MLflow's minutes of retries (unless the
    user set MLFLOW_HTTP_REQUEST_MAX_RETRIES / _TIMEOUT); later requests keep MLflow's own settings."""
    changed = {name: value for name, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"),
                                               ("MLFLOW_HTTP_REQUEST_TIMEOUT", "15"))
               if name not in os.environ}
    os.environ.update(changed)
    try:
        yield
    finally:
        for name in changed:
            os.environ.pop(name, None)


class MlflowTracker(Tracker):
    def __init__(self, store_dir: Path, experiment: str, run_name: str):
        # MLFLOW_TRACKING_URI, when set, points at the team's server or database instead of the local folder.
        uri = os.environ.get("MLFLOW_TRACKING_URI") or store_dir.resolve().as_uri()
        if uri.startswith("file:") or "://" not in uri:  # a folder (MLflow reads a bare path as one too)
            # MLflow 3 keeps the plain-folder store in maintenance mode and refuses it unless asked: a folder
            # needs no server or database, which is what a local default should be. (`mlflow ui
            # --backend-store-uri <folder>` reads it.)
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise KitError("--report_to mlflow needs mlflow: pip install mlflow-skinny") from None
        self.client = MlflowClient(uri)
        with quick_first_requests():
            found = self.client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
            self.run_id = self.client.create_run(experiment_id, run_name=run_name).info.run_id
        self.where = f"{redact(uri)} (experiment '{experiment}', run '{run_name}')"

    @never_fails
    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(k, redact(str(v))[:6000]) for k, v in params.items()])

    @never_fails
    def log_metrics(self, metrics: dict, step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(key, value, now, step) for key, value in numeric(metrics).items()]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    @never_fails
    def log_artifact(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path))

    @never_fails
    def close(self, status: str) -> None:
        # A run resumed with --resume starts a new MLflow run; the interrupted one stays KILLED.
        self.client.set_terminated(self.run_id, status=status)


class TensorBoardTracker(Tracker):
    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise KitError("--report_to tensorboard needs tensorboard: pip install tensorboard") from None
        self.writer = SummaryWriter(log_dir=str(log_dir))
        self.where = f"{log_dir} (tensorboard --logdir {log_dir.parent})"

    @never_fails
    def log_params(self, params: dict) -> None:
        rows = [(key, redact(str(value))) for key, value in params.items()]
        self.writer.add_text("settings", markdown_table(["setting", "value"], rows, align="ll"))

    @never_fails
    def log_metrics(self, metrics: dict, step: int) -> None:
        for key, value in numeric(metrics).items():
            self.writer.add_scalar(key, value, step)

    @never_fails
    def log_artifact(self, path: Path) -> None:
        if path.suffix == ".png":
            import matplotlib.image

            self.writer.add_image(path.stem, matplotlib.image.imread(path)[..., :3], dataformats="HWC")

    @never_fails
    def close(self, status: str) -> None:
        self.writer.close()


# close(status) -> the exit code W&B records: 0 is a finished run, any other marks it failed; an interrupted run
# gets 130 (128 + SIGINT, what a shell reports for Ctrl-C), so it reads apart from a failure.
WANDB_EXIT_CODES = {"FINISHED": 0, "FAILED": 1, "KILLED": 130}


class WandbTracker(Tracker):
    """Weights & Biases: a run in the project named after the experiment, under `<output_dir>/wandb` (or
    WANDB_DIR). Online it needs an API key (`wandb login` or WANDB_API_KEY); `WANDB_MODE=offline` writes the run
    to that folder only (`wandb sync` uploads it later).

    Metrics are plotted against the optimizer step (`optimizer_step`, W&B's x-axis for every metric), not W&B's
    own step counter: validation points arrive after training, with earlier steps than the last one logged,
    which W&B's counter would drop.
    """

    STEP = "optimizer_step"

    def __init__(self, output_root: Path, experiment: str, run_name: str):
        try:
            import wandb
        except ImportError:
            raise KitError("--report_to wandb needs wandb: pip install wandb") from None
        self.wandb = wandb
        # W&B writes into <folder>/wandb. WANDB_DIR and WANDB_MODE are read here, at each run, and passed on:
        # W&B itself reads the environment once per process, which a notebook that changes it would miss.
        folder = Path(os.environ.get("WANDB_DIR") or output_root).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        # console="off": the kit's output stays the kit's (progress bars, one-line errors); the run's own
        # folder already holds everything that matters.
        self.run = wandb.init(project=experiment, name=run_name, dir=str(folder),
                              mode=os.environ.get("WANDB_MODE") or None,
                              reinit="create_new", settings=wandb.Settings(console="off"))
        self.run.define_metric(self.STEP)
        self.run.define_metric("*", step_metric=self.STEP)
        mode = "offline" if self.run.offline else "online"
        self.where = f"W&B {mode}, project '{experiment}', run '{run_name}' ({self.run.url or self.run.dir})"

    @never_fails
    def log_params(self, params: dict) -> None:
        self.run.config.update({key: redact(value) for key, value in params.items()}, allow_val_change=True)

    @never_fails
    def log_metrics(self, metrics: dict, step: int) -> None:
        values = numeric(metrics)
        if values:
            self.run.log({**values, self.STEP: step})

    @never_fails
    def log_artifact(self, path: Path) -> None:
        # The picture as an image of the run; every file, the picture too, into the run's files (synced with it).
        # Copied, not linked: the run folder is renamed when it is finished.
        if path.suffix == ".png":
            self.run.log({path.stem: self.wandb.Image(str(path))})
        shutil.copyfile(path, Path(self.run.dir) / path.name)

    def close(self, status: str) -> None:
        # Tried even after an earlier failure (a broken tracker is otherwise quiet): an unfinished W&B run keeps
        # its background process, and W&B's exit hook would mark it finished whatever happened.
        try:
            if not self.broken:
                self.run.summary["status"] = status
            self.run.finish(exit_code=WANDB_EXIT_CODES.get(status, 1))
        except Exception as error:
            if not self.broken:
                print(f"[tracking] WandbTracker failed to close the run: {redact(first_line(error))}", file=sys.stderr)
            self.broken = True
