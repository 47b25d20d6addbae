"""The detection report's model-defence table: BackdoorBench's defences on each face model.

One row per (defence, model), from `ModelDefence` metrics: for the training-set filters
(spectral signatures, activation clustering) how many training examples they removed and their
precision / recall against the poisoning plan; for Neural Cleanse the class it detected (the
flagged class with the smallest mask, MAD anomaly index > 2) and the anomaly index of the
attack's target; for every defence that produced a model (NC's unlearning, a filter's
retraining) that model's clean accuracy, attack success rate, robust accuracy and DER against
the backdoored model. A cell that does not apply is left empty ('—' in Markdown); a model
trained without a plan has no ground truth, so its filter rows say 'not scored'.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd

from poison_tf.dag.artifact import Artifact
from poison_tf.report.tables import to_markdown

COLUMNS = (
    "removed",
    "precision",
    "recall",
    "detected",
    "target_anomaly_index",
    "clean_acc",
    "asr",
    "ra",
    "der",
)


def defence_frame(runs: list[dict]) -> pd.DataFrame:
    """Rows = (defence, model) in input order; COLUMNS, NaN where a cell does not apply.

    Args:
        runs: `ModelDefence` metrics, one per model (its "defences" rows).

    Returns:
        The table, indexed by (defence, model).
    """
    rows = []
    for r in [m | d for m in runs for d in m["defences"]]:  # a model's fields + one defence's
        row = {"defence": r["defence"], "model": r["backdoor"]}
        if "removed" in r:
            share = r["removed"] / max(1, r["num_train"])
            row["removed"] = f"{r['removed']} ({share:.0%})"
            row["precision"] = r["precision"] if r["ground_truth"] else "not scored"
            row["recall"] = r["recall"] if r["ground_truth"] else "not scored"
        if "detected" in r:
            row["detected"] = "none" if r["detected"] is None else str(r["detected"])
            row["target_anomaly_index"] = r.get("target_anomaly_index", np.nan)
        row.update({k: v for k, v in r.get("after", {}).items() if k in COLUMNS})
        rows.append(row)
    frame = pd.DataFrame(rows).set_index(["defence", "model"])
    return frame.reindex(columns=[c for c in COLUMNS if c in frame.columns])


def defence_sections(runs: list[dict]) -> list[str]:
    """The report's Markdown section (empty when no model defence ran).

    Args:
        runs: `ModelDefence` metrics, one per model.

    Returns:
        The section's Markdown blocks (title and table), or [].
    """
    if not any(m["defences"] for m in runs):
        return []
    frame = defence_frame(runs)
    shown = frame.astype(object).where(frame.notna(), "—")
    notes = []
    if any("removed" in d and "after" not in d for m in runs for d in m["defences"]):
        notes.append(
            "filters without clean_acc / asr: not retrained (`--retrain_epochs=0`), scored only"
        )
    if not all(r["ground_truth"] for r in runs):
        notes.append(
            "a model trained without a poisoning plan has no ground truth: its filters' "
            "precision / recall cannot be scored and its attack success is unknown"
        )
    return [
        "## Model defences (BackdoorBench's spectral signatures `spectral`, activation "
        "clustering `ac` and Neural Cleanse `nc`, the `backdoor_benchmark` code, on each "
        "backdoored model; filters: training examples removed, precision / recall against the "
        "plan's poisoned ids; NC: the detected class and the target's MAD anomaly index; then "
        "the defended model on clean test data and the model's own trigger, DER against the "
        "backdoored model" + ("; " + "; ".join(notes) if notes else "") + ")",
        to_markdown(shown),
    ]


def copy_triggers(artifacts: list[Artifact], out: Artifact) -> list[str]:
    """Copies each Neural Cleanse trigger image into the report.

    Args:
        artifacts: the `ModelDefence` outputs.
        out: the report artefact.

    Returns:
        The Markdown line showing the copied images, or [] when there were none.
    """
    shown = []
    for artifact in artifacts:
        source = artifact.path("nc_trigger.png")
        if os.path.isfile(source):
            name = f"nc_trigger_{artifact.properties.get('backdoor') or len(shown)}.png"
            shutil.copyfile(source, out.path(name))
            shown.append(f"![{name}]({name})")
    if not shown:
        return []
    return [
        "Neural Cleanse's recovered triggers (mask · pattern of the detected class, else of "
        "the target): " + " ".join(shown)
    ]
