"""Experiment tracking: MLflow (a local file store by default), TensorBoard, or none (`--report_to`).

Every run already writes train_metrics.json and loss_curve.png into its own folder; a tracker puts the same
numbers where people compare many runs: parameters, per-step loss and learning rate, validation and generation
metrics, and the loss-curve picture as an artifact.

MLflow is driven through its client (`MlflowClient`), not the `mlflow.start_run()` globals, so that a notebook can
train twice in one process and a failed run is marked FAILED rather than left running.
"""

import contextlib
import functools
import importlib.util
import os
import sys
import time
from pathlib import Path

from .errors import KitError, first_line, one_line
from .redaction import redact

REPORT_TO_CHOICES = ("auto", "none", "mlflow", "tensorboard")


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
            print(f"[tracking] {type(self).__name__} failed, no more tracking in this run: {redact(first_line(error))}", file=sys.stderr)
            return None

    return guarded


def numeric(metrics: dict) -> dict:
    return {key: float(value) for key, value in metrics.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}


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
        final = {"final_train_loss": metrics.get("final_train_loss"), "final_validation_loss": metrics.get("validation_loss"),
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
        else:
            return Tracker()
    except KitError:
        raise
    except Exception as error:
        if report_to == "mlflow":
            where = os.environ.get("MLFLOW_TRACKING_URI") or str(Path(output_root) / "mlruns")
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
    changed = {name: value for name, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"), ("MLFLOW_HTTP_REQUEST_TIMEOUT", "15"))
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
        table = "\n".join(f"| {key} | {redact(str(value))} |" for key, value in params.items())
        self.writer.add_text("settings", "| setting | value |\n|---|---|\n" + table)

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
