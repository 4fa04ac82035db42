"""What a person looks at after a run: the loss curve as a picture, and short summaries."""

from pathlib import Path


def save_loss_curve(history: list, path: Path, validation_points: list | None = None, title: str = "") -> None:
    """Training loss per optimizer step (raw and smoothed), with validation loss points when given."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    losses = [h["loss"] for h in history]
    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=120)
    axis.plot(steps, losses, color="tab:blue", alpha=0.35, linewidth=1, label="train loss (per step)")
    axis.plot(steps, moving_average(losses, window=max(1, len(losses) // 20)), color="tab:blue", linewidth=2,
              label="train loss (smoothed)")
    for point_index, (step, loss) in enumerate(validation_points or []):
        axis.scatter([step], [loss], color="tab:orange", zorder=3, label="validation loss" if point_index == 0 else None)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("loss per label token")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def moving_average(values: list, window: int) -> list:
    smoothed, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        smoothed.append(total / min(index + 1, window))
    return smoothed
