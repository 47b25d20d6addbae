"""DetectionReport: detection metric artefacts → report.md, CSVs, a score-histogram PNG, TensorBoard.

Tables: the attack (clean accuracy and each trigger's attack success rate per backdoored
model); per detector × trigger the threshold, FRR on clean test, detection rate and ROC-AUC on
the model poisoned with that trigger; and the original VAE study's shape — rows = detector
(and model), columns = the clean threshold, the mean score on clean test data and the mean
score on each poisoned set.
"""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from poison_tf import types
from poison_tf.components.faces.defence_table import (  # noqa: E402
    copy_triggers,
    defence_frame,
    defence_sections,
)  # noqa: E402
from poison_tf.components.parameters import report_parameters, seeds_parameter  # noqa: E402
from poison_tf.dag.component import BaseComponent  # noqa: E402
from poison_tf.dag.executor import BaseExecutor  # noqa: E402
from poison_tf.dag.spec import ComponentSpec  # noqa: E402
from poison_tf.io.atomic import save_figure  # noqa: E402
from poison_tf.report.seeds import seeds_heading, spread_table  # noqa: E402
from poison_tf.report.tables import to_markdown, write_csv  # noqa: E402


class DetectionReportSpec(ComponentSpec):
    INPUTS = {
        "metrics": types.DetectionMetrics.channel(),
        "models": types.FaceModel.channel(),
        "defences": types.Metrics.channel(
            optional=True, help="`ModelDefence` metrics (the model-defence table)"
        ),
    }
    OUTPUTS = {"report": types.Report.channel()}
    PARAMETERS = {
        **report_parameters(
            "Backdoor input detection on a DeepID face classifier", "data and training"
        ),
        "seeds": seeds_parameter(),
    }


MODEL_FREE = "(any model)"  # the VAE sees images only, so one row serves every model


def tables(runs: list[dict]) -> dict[str, pd.DataFrame]:
    """attack: rows = backdoored model; mean_scores: rows = (detector, model), the study's shape;
    detection: rows = (detector, trigger) on the model poisoned with that trigger; repair (only
    when a detector repairs the model): rows = (detector, model).

    Args:
        runs: one dict per backdoored model (its trigger, metrics and detector rows).

    Returns:
        {"attack", "mean_scores", "detection"} (+ "repair") tables.
    """
    attack, detection, means, repair = [], [], {}, []
    for metrics in runs:
        backdoor = metrics["backdoor"]
        row = {"model": backdoor, "clean_accuracy": metrics["clean_accuracy"]}
        row.update({f"asr_{t}": r["attack_success_rate"] for t, r in metrics["attacks"].items()})
        attack.append(row)
        for kind, entry in metrics["detectors"].items():
            model = MODEL_FREE if kind == "vae" else backdoor
            mean = means.setdefault(
                (kind, model),
                {
                    "detector": kind,
                    "model": model,
                    "clean_threshold": entry["threshold"],
                    "mean_clean": entry["mean_clean"],
                },
            )
            for trigger, result in entry["triggers"].items():
                mean[f"mean_{trigger}"] = result["mean_poisoned"]
            if "repair" in entry:
                r = entry["repair"]
                repair.append(
                    {
                        "detector": kind,
                        "model": backdoor,
                        "layer": r["layer"],
                        "pruned": f"{r['pruned_channels']} ({r['pruned_fraction']:.0%})",
                        "clean_accuracy": r["original_clean_accuracy"],
                        "repaired_clean_accuracy": r["clean_accuracy"],
                        "asr": r["original_attack_success_rate"],
                        "repaired_asr": r["attack_success_rate"],
                        "disagree_clean": r["disagreement_clean"],
                        "disagree_triggered": r["disagreement_triggered"],
                    }
                )
            result = entry["triggers"][backdoor]
            detection.append(
                {
                    "detector": kind,
                    "trigger": backdoor,
                    "threshold": entry["threshold"],
                    "frr": entry["frr"],
                    "detection_rate": result["detection_rate"],
                    "roc_auc": result["roc_auc"],
                }
            )
    order = [m["backdoor"] for m in runs]  # trigger columns follow the pipeline's trigger order
    attack_frame = pd.DataFrame(attack).set_index("model")
    mean_frame = pd.DataFrame(list(means.values())).set_index(["detector", "model"]).sort_index()
    frames = {} if not repair else {"repair": pd.DataFrame(repair).set_index(["detector", "model"])}
    return frames | {
        "attack": attack_frame[_ordered(attack_frame.columns, "asr_", order)],
        "detection": pd.DataFrame(detection).set_index(["detector", "trigger"]).sort_index(),
        "mean_scores": mean_frame[_ordered(mean_frame.columns, "mean_", order)],
    }


def _ordered(columns, prefix: str, order: list[str]) -> list[str]:
    named = [f"{prefix}{t}" for t in order if f"{prefix}{t}" in columns]
    return [c for c in columns if c not in named] + named


def plot_histograms(runs: list[tuple[str, str]], path: str) -> None:
    """One panel per detector: clean test scores against each trigger's triggered scores.

    `runs` are (backdoor trigger, scores.npz). A model-based detector's triggered scores come
    from the model poisoned with that trigger and its clean scores are pooled over the models;
    the VAE sees images only, so its scores come from the first run.

    Args:
        runs: (backdoor trigger, scores.npz path) per model.
        path: the PNG file.
    """
    scores: dict[str, dict[str, list[np.ndarray]]] = {}
    for index, (backdoor, file) in enumerate(runs):
        with np.load(file) as data:
            for key in data.files:
                kind, name = key.split("__", 1)
                if kind == "vae" and index > 0 or kind != "vae" and name not in ("clean", backdoor):
                    continue
                scores.setdefault(kind, {}).setdefault(name, []).append(data[key])
    order = ["clean"] + [backdoor for backdoor, _ in runs]  # the same colour per set in every panel
    order += sorted({n for sets in scores.values() for n in sets} - set(order))
    fig, axes = plt.subplots(
        1, max(1, len(scores)), figsize=(4 * max(1, len(scores)), 3.2), squeeze=False
    )
    for axis, (kind, sets) in zip(axes[0], sorted(scores.items())):
        for name, values in sorted(sets.items(), key=lambda item: order.index(item[0])):
            axis.hist(
                np.concatenate(values),
                bins=30,
                alpha=0.5,
                label=name,
                density=True,
                color=f"C{order.index(name) % 10}",
            )
        axis.set_title(kind)
        axis.set_xlabel("score (higher = more suspicious)")
        axis.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def seed_sections(runs: list[dict], seeds: list, out) -> list[str]:
    """With several seeds: attack and detection tables as mean ± std over seeds (+ long CSVs).

    Args:
        runs: one dict per (model, seed).
        seeds: the seeds.
        out: the report artefact (the CSVs go there).

    Returns:
        Markdown lines ([] with one seed).
    """
    order = list(dict.fromkeys(seeds))
    if len(order) < 2:
        return []
    per_seed = [tables([r for r, s in zip(runs, seeds) if s == seed]) for seed in order]
    sections = []
    for name, title in (
        ("detection", "detection of each model's own trigger (FRR, detection rate, ROC-AUC)"),
        ("attack", "the attack (clean accuracy, attack success rates)"),
    ):
        table = spread_table([f[name] for f in per_seed], order, out.path(f"{name}_seeds.csv"))
        sections += [
            f"## {seeds_heading(order)}: {title}, mean ± sample std; the tables above are the "
            "first seed's",
            table,
        ]
    return sections


class DetectionReportExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        out = output_dict["report"][0]
        every = [types.DetectionMetrics.read(a) for a in input_dict["metrics"]]
        seeds = json.loads(exec_properties["seeds"] or "null") or [None] * len(every)
        first = [i for i, s in enumerate(seeds) if s == seeds[0]]  # the tables of one seed
        runs = [every[i] for i in first]
        frames = tables(runs)
        for name, frame in frames.items():
            write_csv(frame, out.path(f"{name}.csv"))
        spread = seed_sections(every, seeds, out)
        metrics_dirs = [input_dict["metrics"][i] for i in first]
        files = [(m["backdoor"], a.path("scores.npz")) for m, a in zip(runs, metrics_dirs)]
        plot_histograms(files, out.path("score_histograms.png"))
        defences = [types.Metrics.read(a) for a in input_dict.get("defences") or []]
        if any(m["defences"] for m in defences):
            write_csv(defence_frame(defences), out.path("defences.csv"))
        defended = defence_sections(defences) + copy_triggers(input_dict.get("defences") or [], out)
        repair = []
        if "repair" in frames:
            repair = [
                "## Repair (fine-pruning: the original model B and the repaired B' on clean "
                "test data and on the model's own trigger; disagree = share where B' and B "
                "differ, the published flag rule)",
                to_markdown(frames["repair"]),
            ]
        sections = [
            f"# {exec_properties['title']}",
            exec_properties["settings"],
            "## The attack (rows: the model poisoned with that trigger; clean test accuracy, attack "
            "success rate of each trigger on the non-target test images)",
            to_markdown(frames["attack"]),
            "## Clean threshold and mean score per poisoned set (the original study's table; the VAE "
            "sees images only, the other detectors wrap the model of that row)",
            to_markdown(frames["mean_scores"]),
            "## Detection of each model's own trigger (threshold from clean validation; FRR on clean "
            "test; detection rate; ROC-AUC)",
            to_markdown(frames["detection"]),
            *spread,
            *repair,
            *defended,
            "## Score distributions (clean test vs each trigger; model-based detectors on the model "
            "poisoned with that trigger)",
            "![scores](score_histograms.png)",
            "TensorBoard: `tensorboard --logdir tensorboard`.",
        ]
        types.Report.write_sections(out, sections)
        for metrics, model, seed in zip(every, input_dict["models"], seeds):
            name = metrics["backdoor"] or os.path.basename(model.uri)
            name += f"_seed{seed}" if seed is not None and seed != seeds[0] else ""
            types.FaceModel.copy_tensorboard(model, out.uri, name)


class DetectionReport(BaseComponent):
    """Detection metric artefacts → report.md, CSVs, a score-histogram PNG, TensorBoard."""

    SPEC_CLASS = DetectionReportSpec
    EXECUTOR_CLASS = DetectionReportExecutor
