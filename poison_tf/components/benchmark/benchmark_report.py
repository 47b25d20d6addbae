"""BenchmarkReport: cell metrics → report.md and leaderboard.csv laid out like BackdoorBench's.

BackdoorBench's leaderboard lists, per (attack, poison ratio, defence), C-Acc, ASR and RA (%);
the table here has those columns for our run and, beside them, BackdoorBench's published row
(`published.py`, CIFAR-10 PreAct-ResNet18) where one exists, with DER computed from both
(their `defense_effectiveness_rate_simplied`). Further tables: the training-set filters'
precision / recall against the plan's ground truth, Neural Cleanse's detection, and each
defence's fit time.
"""

from __future__ import annotations

import os
import shutil

import pandas as pd

from poison_tf import types
from poison_tf.components.benchmark.published import SOURCE, published
from poison_tf.components.parameters import report_parameters
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec
from poison_tf.metrics.backdoorbench import defence_effectiveness_rating
from poison_tf.report.tables import to_markdown, write_csv


def _pct(value) -> float | None:
    return None if value is None else round(100 * float(value), 2)


def leaderboard(cells: list[dict]) -> pd.DataFrame:
    """One row per (attack, ratio, defence): ours and BackdoorBench's C-Acc / ASR / RA / DER.

    Args:
        cells: the cells' metrics.json dicts.

    Returns:
        The leaderboard.
    """
    records = []
    for cell in cells:
        attack, rate = cell["attack"], cell["rate_percent"]
        ref_none = published(attack, rate, "none")
        for row in cell["rows"]:
            ref = published(attack, rate, row["defence"])
            ref_der = None
            if ref is not None and ref_none is not None and row["defence"] != "none":
                ref_der = defence_effectiveness_rating(
                    ref_none[0] / 100, ref[0] / 100, ref_none[1] / 100, ref[1] / 100
                )
            records.append(
                {
                    "attack": attack,
                    "ratio %": rate,
                    "defence": row["defence"],
                    "C-Acc": _pct(row["clean_acc"]),
                    "ASR": _pct(row["asr"]),
                    "RA": _pct(row["ra"]),
                    "DER": _pct(row.get("der")),
                    "BB C-Acc": ref[0] if ref else None,
                    "BB ASR": ref[1] if ref else None,
                    "BB RA": ref[2] if ref else None,
                    "BB DER": None if ref_der is None else round(100 * ref_der, 2),
                }
            )
    return pd.DataFrame.from_records(records)


def filters(cells: list[dict]) -> pd.DataFrame:
    """One row per (attack, ratio, filtering defence): what it removed, precision, recall.

    Args:
        cells: the cells' metrics.json dicts.

    Returns:
        The table.
    """
    keys = ("removed", "removed_poisoned", "precision", "recall")
    return pd.DataFrame.from_records(
        [
            {"attack": c["attack"], "ratio %": c["rate_percent"], "defence": r["defence"]}
            | {"poisoned": c["poisoned"]}
            | {k: r[k] for k in keys}
            for c in cells
            for r in c["rows"]
            if "precision" in r
        ]
    )


def neural_cleanse(cells: list[dict]) -> pd.DataFrame:
    """One row per (attack, ratio): Neural Cleanse's detected and flagged classes.

    Args:
        cells: the cells' metrics.json dicts (their "nc" rows are read).

    Returns:
        The detection table, with the anomaly index of the smallest norm and of the target.
    """
    return pd.DataFrame.from_records(
        [
            {
                "attack": c["attack"],
                "ratio %": c["rate_percent"],
                "detected class": "none" if r["detected"] is None else str(r["detected"]),
                "flagged": ",".join(map(str, r["flagged"])) or "-",
                "anomaly index (min norm)": r["min_anomaly_index"],
                "anomaly index (target)": r["target_anomaly_index"],
            }
            for c in cells
            for r in c["rows"]
            if r["defence"] == "nc"
        ]
    )


def timings(cells: list[dict]) -> pd.DataFrame:
    """One row per (attack, ratio, defence): its wall-clock seconds.

    Args:
        cells: the metrics of every cell, each with one row per defence.

    Returns:
        The cost table (seconds rounded to 0.1).
    """
    return pd.DataFrame.from_records(
        [
            {"attack": c["attack"], "ratio %": c["rate_percent"], "defence": r["defence"]}
            | {"seconds": round(r["seconds"], 1)}
            for c in cells
            for r in c["rows"]
        ]
    )


class BenchmarkReportSpec(ComponentSpec):
    INPUTS = {"metrics": types.Metrics.channel()}
    OUTPUTS = {"report": types.Report.channel()}
    PARAMETERS = report_parameters(
        "Backdoor benchmark (BackdoorBench protocol)", "the run's settings"
    )


class BenchmarkReportExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        out = output_dict["report"][0]
        cells = [types.Metrics.read(a) for a in input_dict["metrics"]]
        board = leaderboard(cells)
        write_csv(board, out.path("leaderboard.csv"), index=False)
        sections = [
            f"# {exec_properties['title']}",
            exec_properties["settings"],
            "## Leaderboard (C-Acc / ASR / RA / DER in %; BB = BackdoorBench's published row, "
            f"{SOURCE}; '—' where they have none)",
            to_markdown(board.astype(object).where(board.notna(), "—"), "{:.2f}", index=False),
            "ASR and RA are measured on every non-target test image with the trigger; DER = "
            "[max(0, ΔASR) − max(0, ΔC-Acc) + 1] / 2 against the undefended row (BackdoorBench "
            "`utils/metric.py`); 50 = no change, 100 = ASR to 0 at no accuracy cost.",
        ]
        for title, frame in (
            ("Training-set filters against the plan's ground truth", filters(cells)),
            (
                "Neural Cleanse detection (flag: anomaly index > 2 below the median)",
                neural_cleanse(cells),
            ),
            ("Time per victim / defence (seconds, training included)", timings(cells)),
        ):
            if len(frame):
                sections += [f"## {title}", to_markdown(frame, float_format="{:.3f}", index=False)]
        for artifact, cell in zip(input_dict["metrics"], cells):
            source = artifact.path("nc_trigger.png")
            if os.path.isfile(source):
                name = f"nc_trigger_{cell['attack']}_{cell['rate_percent']:g}.png"
                shutil.copy(source, out.path(name))
                sections.append(
                    f"![NC trigger, {cell['attack']} {cell['rate_percent']:g} %]({name})"
                )
        types.Report.write_sections(out, sections)


class BenchmarkReport(BaseComponent):
    """Cell metrics → report.md and leaderboard.csv laid out like BackdoorBench's leaderboard."""

    SPEC_CLASS = BenchmarkReportSpec
    EXECUTOR_CLASS = BenchmarkReportExecutor
