"""PatchEvaluator: victim + held-out examples + patches (one per area) → success metrics.

For every patch (typically one optimised per area of a sweep, e.g. 5, 10, 15, 20 %) and for a
random-colour grid of the same size and cells (the control): clean accuracy, accuracy with
the patch at a random position per test image, targeted success and untargeted success
(`poison_tf.attacks.patch_evaluation`). With `eot`, every patch is also measured under the
expectation over transformations recorded in its patch.json (random rotation, scale,
brightness, contrast, as the optimiser's EOT draws them), alongside the plain placement.
Writes `metrics.json` and `success_vs_area.csv`.
"""

from __future__ import annotations

import keras
import pandas as pd

from poison_tf import types
from poison_tf.attacks.patch_evaluation import evaluate_patch, predict_classes
from poison_tf.components.patch.patch_optimizer import eot_config
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter

KINDS = ("patch", "random_control", "patch_eot", "random_control_eot")


class PatchEvaluatorSpec(ComponentSpec):
    INPUTS = {
        "model": types.VictimModel.channel(),
        "examples": types.Examples.channel(),
        "patches": types.Patch.channel(),
    }
    OUTPUTS = {"metrics": types.PatchMetrics.channel()}
    PARAMETERS = {
        "max_images": ExecutionParameter(
            int, default=0, help="evaluate on N test images, a seeded sample (0 = all)"
        ),
        "seed": ExecutionParameter(
            int, default=0, help="seed of the random positions and the control colours"
        ),
        "eot": ExecutionParameter(
            bool,
            default=False,
            help="also evaluate under the random transformations of the optimiser's EOT",
        ),
    }


def sweep_table(entries: list[dict]) -> pd.DataFrame:
    """Success against patch area: one row per patch fraction, columns "<kind>: <rate>".

    Args:
        entries: one evaluation per patch fraction.

    Returns:
        The table, indexed by requested area %.
    """
    rows = []
    for entry in entries:
        row = {
            "area %": round(100 * entry["requested_fraction"], 2),
            "actual area %": round(100 * entry["area_fraction"], 2),
            "side px": entry["side_px"],
        }
        for kind in KINDS:
            for key, value in entry.get(kind, {}).items():
                row[f"{kind}: {key}"] = value
        rows.append(row)
    return pd.DataFrame(rows).sort_values("area %").set_index("area %")


class PatchEvaluatorExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        keras.utils.set_random_seed(
            exec_properties["seed"]
        )  # same sample cached or fresh (see PatchOptimizer)
        model = types.VictimModel.load(input_dict["model"][0])
        images, labels = types.Examples.read_split(
            input_dict["examples"][0].uri,
            "test",
            exec_properties["max_images"],
            exec_properties["seed"],
        )
        clean_pred = predict_classes(model, images)
        entries = []
        for artifact in input_dict["patches"]:
            colours, geometry, info = types.Patch.load(artifact)
            metrics = evaluate_patch(
                model,
                images,
                labels,
                colours,
                geometry,
                info["target_class"],
                seed=exec_properties["seed"],
                clean_pred=clean_pred,
                eot=eot_config(info) if exec_properties["eot"] else None,
            )
            entries.append(
                {
                    "requested_fraction": geometry.fraction,
                    "target_class": info["target_class"],
                    "cells": geometry.cells,
                    **metrics,
                }
            )
        out = output_dict["metrics"][0]
        types.PatchMetrics.write(out, {"num_images": int(len(images)), "entries": entries})
        sweep_table(entries).to_csv(out.path(types.PatchMetrics.SWEEP_FILE))


class PatchEvaluator(BaseComponent):
    """Victim + held-out examples + patches (one per area) → success metrics."""

    VERSION = "2"  # max_images: a seeded sample of the test split (was its first N); EOT rows
    SPEC_CLASS = PatchEvaluatorSpec
    EXECUTOR_CLASS = PatchEvaluatorExecutor
