"""A Gantt-style picture of one run from `executions.jsonl`: which component ran when, where.

One row per executed component (start order), its bar from start to end in seconds since the
run began, coloured by the worker that ran it, so overlapping bars are branches that really ran
at the same time; failed components are hatched. Cached ones and those skipped after an
upstream failure did not run and are left out (the caption counts them).
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from poison_tf.dag import executions  # noqa: E402
from poison_tf.io.atomic import save_figure  # noqa: E402

TIMELINE_FILE = "timeline.png"


def plot_timeline(records: list[dict], path: str, title: str = "run timeline") -> int:
    """Draws the executed records into the PNG `path`; returns how many bars it drew.

    Args:
        records: records of one run, as `poison_tf.dag.executions.read` returns them.
        path: the PNG file to write (atomically).
        title: the figure title.

    Returns:
        The number of executed (not cached, not skipped) components drawn.
    """
    ran = sorted((r for r in records if r["status"] in ("ok", "failed")), key=lambda r: r["start"])
    not_run = len(records) - len(ran)
    origin = min((r["start"] for r in ran), default=0.0)
    workers = sorted({f"{r['node']} / {r['worker']}" for r in ran})
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(12, 1.5 + 0.28 * max(len(ran), 1)))
    for row, record in enumerate(ran):
        lane = workers.index(f"{record['node']} / {record['worker']}")
        ax.barh(
            row,
            max(record["end"] - record["start"], 1e-3),
            left=record["start"] - origin,
            color=colours(lane % 10),
            hatch="//" if record["status"] == "failed" else None,
            edgecolor="black",
            linewidth=0.4,
        )
    ax.set_yticks(range(len(ran)), [r["component"] for r in ran], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first component started")
    span = max((r["end"] for r in ran), default=origin) - origin
    ax.set_title(
        f"{title}: {len(ran)} executed on {len(workers)} worker(s), {span:.0f} s"
        + (f"; {not_run} cached or skipped" if not_run else "")
    )
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=colours(i % 10), label=w) for i, w in enumerate(workers)
    ]
    if handles:
        ax.legend(
            handles=handles[:10], fontsize=6, title="node / worker",
            loc="upper left", bbox_to_anchor=(1.01, 1.0),
        )  # fmt: skip
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    return len(ran)


def add_timeline(root: str, output_dir: str, runner: str) -> str | None:
    """Draws the latest run of `<root>/executions.jsonl` into `<output_dir>/timeline.png` and
    appends a "Run timeline" section to `<output_dir>/report.md`; returns the PNG path."""
    records = executions.last_run(root)
    if not records:
        return None
    path = os.path.join(output_dir, TIMELINE_FILE)
    drawn = plot_timeline(records, path, title=f"{records[0].get('pipeline', '')} ({runner})")
    cached = sum(r["status"] == "cached" for r in records)
    workers = {(r["node"], r["worker"]) for r in records if r["status"] in ("ok", "failed")}
    busy = sum(r["end"] - r["start"] for r in records if r["status"] in ("ok", "failed"))
    ran = [r for r in records if r["status"] in ("ok", "failed")]
    span = (max(r["end"] for r in ran) - min(r["start"] for r in ran)) if ran else 0.0
    text = (
        f"\n\n## Run timeline\n\n`--runner={runner}`: {drawn} component(s) executed on "
        f"{len(workers)} worker(s), {cached} from the cache; {span:.0f} s wall for {busy:.0f} s "
        f"of component time. Every execution is listed in `.pipeline/{executions.LOG_FILE}`.\n\n"
        f"![timeline]({TIMELINE_FILE})\n"
    )
    report = os.path.join(output_dir, "report.md")
    if os.path.isfile(report):
        with open(report, "a") as handle:
            handle.write(text)
    return path
