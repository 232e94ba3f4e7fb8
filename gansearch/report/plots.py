"""Static plots of a sweep: quality against each cost, the front highlighted, the teacher marked."""

from __future__ import annotations

from pathlib import Path

from gansearch.report.sweep import SweepResults


def plot_front(sweep: SweepResults, front, cost: str, path: Path, teacher: dict[str, float],
               compare: tuple[str, object] | None = None) -> Path:
    """quality (y) against ``cost`` (x): every finished trial, the front, the teacher as a point
    (a vertical line at its cost when the sweep did not measure its quality), and another
    sweep's front if given."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    quality = sweep.quality
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    trials = sweep.finished
    ax.scatter(trials[cost], trials[quality], s=18, c="#aaaaaa", label="trial")
    ax.scatter(front[cost], front[quality], s=40, c="#d62728", edgecolors="black",
               label="Pareto front", zorder=3)
    if compare is not None:
        name, other = compare
        ax.scatter(other[cost], other[quality], s=60, facecolors="none", edgecolors="#1f77b4",
                   linewidths=1.5, label=f"{name}: front", zorder=2)
    if cost in teacher and quality in teacher:
        ax.scatter([teacher[cost]], [teacher[quality]], s=90, marker="*", c="#2ca02c", edgecolors="black",
                   label="teacher", zorder=4)
    elif cost in teacher:
        ax.axvline(teacher[cost], color="#2ca02c", linestyle="--",
                   label="teacher (cost; quality not measured)")
    better = "lower" if sweep.objectives[quality] == "min" else "higher"
    ax.set(xlabel=cost, ylabel=f"{quality} ({better} is better)", title=f"{sweep.name}: {quality} vs {cost}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
