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
    axis.plot(steps, smoothed(losses), color="tab:blue", linewidth=2,
              label="train loss (smoothed)")
    if "task_loss" in history[0]:  # a loss made of parts (distillation): show the task part beside the total
        task = [h["task_loss"] for h in history]
        axis.plot(steps, smoothed(task), color="tab:green", linewidth=2,
                  label="task cross-entropy (smoothed)")
    if "distill_kl" in history[0]:  # on its own scale: the KL is often ten times smaller than the loss
        kl_axis = axis.twinx()
        kl = [h["distill_kl"] for h in history]
        kl_axis.plot(steps, smoothed(kl), color="tab:red", linewidth=2,
                     label="KL(base || fine-tuned) (smoothed, right axis)")
        kl_axis.set_ylabel("KL per label token")
    for point_index, (step, loss) in enumerate(validation_points or []):
        axis.scatter([step], [loss], color="tab:orange", zorder=3,
                     label="validation loss" if point_index == 0 else None)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("loss per label token")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    if "distill_kl" in history[0]:
        figure.legend(loc="upper right", bbox_to_anchor=(0.9, 0.9))  # gathers both axes' lines
    else:
        axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def smoothed(values: list) -> list:
    """A moving average over a twentieth of the run, for curves a person can read."""
    return moving_average(values, window=max(1, len(values) // 20))


def moving_average(values: list, window: int) -> list:
    smoothed, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        smoothed.append(total / min(index + 1, window))
    return smoothed


def save_sweep_curves(results: list, path: Path) -> None:
    """Smoothed training loss of every run of a sweep in one picture, validation points in the same colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 5), dpi=120)
    for index, result in enumerate(results):
        colour = f"C{index % 10}"
        steps = [h["step"] for h in result["history"]]
        losses = [h["loss"] for h in result["history"]]
        axis.plot(steps, smoothed(losses), color=colour, linewidth=1.8,
                  label=result["name"])
        for step, loss in result.get("validation_points") or []:
            axis.scatter([step], [loss], color=colour, marker="o", edgecolors="black", zorder=3)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("train loss per label token (smoothed); dots: validation")
    axis.grid(alpha=0.3)
    if results:
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def save_tradeoff(points: list, path: Path, title: str = "") -> None:
    """Forgetting against name F1, one labelled point per (label, text_forgetting, name_set_f1): the best
    settings sit top left (little forgetting, high F1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5.5), dpi=120)
    for index, (label, forgetting, f1) in enumerate(points):
        axis.scatter([100 * forgetting], [f1], color=f"C{index % 10}", edgecolors="black", zorder=3)
        axis.annotate(label, (100 * forgetting, f1), textcoords="offset points", xytext=(5, 4), fontsize="small")
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.margins(x=0.3, y=0.15)  # room for the labels beside the outermost points
    axis.set_xlabel("forgetting: plain-text perplexity on held-out conversations vs the base model (%)")
    axis.set_ylabel("name F1 (validation)")
    axis.set_title(title or "what each setting keeps against what it gives the task")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
