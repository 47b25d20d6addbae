"""PatchReport: patch metrics + the main patch (+ Grad-CAM) → report.md, CSVs, plots, TensorBoard.

Tables: the main patch vs the random-colour control (clean accuracy, patched accuracy,
targeted and untargeted success), the success-vs-area sweep (with `success_vs_area.png`),
and the Grad-CAM mass inside the patch. Beside report.md: `patch.png`, `patch.pdf`,
`loss.png`, `losses.csv`, `gradcam.png`, `victim.keras` (the attacked model, so that a later
study can start from it) and `tensorboard/` (the patch optimiser's logs and the victim trainer's,
when it was trained here).
"""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd

from poison_tf import types
from poison_tf.components.parameters import report_parameters, seeds_parameter
from poison_tf.components.patch.patch_evaluator import sweep_table
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec
from poison_tf.io.atomic import read_json
from poison_tf.report.patch_figures import plot_success_vs_area
from poison_tf.report.seeds import seeds_heading, spread_table
from poison_tf.report.tables import to_markdown, write_csv

VICTIM_FILE = "victim.keras"
COPIED = (
    "patch.png",
    "patch_large.png",
    "patch.pdf",
    "loss.png",
    "losses.csv",
    "colours.npy",
    types.Patch.JSON_FILE,
)
RATES = ("clean_accuracy", "patched_accuracy", "targeted_success", "untargeted_success")


class PatchReportSpec(ComponentSpec):
    INPUTS = {
        "metrics": types.PatchMetrics.channel(),
        "patch": types.Patch.channel(),
        "model": types.VictimModel.channel(),
        "explanation": types.Explanation.channel(optional=True),
    }
    OUTPUTS = {"report": types.Report.channel()}
    PARAMETERS = {
        **report_parameters("Grid adversarial patch", "data, victim and attack"),
        "seeds": seeds_parameter(),
    }


ROWS = (
    ("optimised patch", "patch"),
    ("random-colour control", "random_control"),
    ("optimised patch, EOT", "patch_eot"),
    ("random-colour control, EOT", "random_control_eot"),
)


def main_table(entry: dict) -> pd.DataFrame:
    """One row per patch kind measured (the EOT rows only when the evaluator ran with `eot`).

    Args:
        entry: the evaluation of the main patch fraction.

    Returns:
        The table, one row per patch kind.
    """
    rows = {
        name: {key: entry[kind][key] for key in RATES if key in entry[kind]}
        for name, kind in ROWS
        if kind in entry
    }
    return pd.DataFrame(rows).T.rename_axis("patch")


def success_curve(sweep: pd.DataFrame, key: str) -> pd.DataFrame:
    """Success (`key`) vs area: the optimised patch and the control, plain and (when measured) under EOT.

    Args:
        sweep: the evaluator's sweep table.
        key: the success column (e.g. "targeted_success").

    Returns:
        The curve's table, indexed by area %.
    """
    names = {
        "patch": "optimised patch",
        "random_control": "random control",
        "patch_eot": "optimised patch, EOT",
        "random_control_eot": "random control, EOT",
    }
    return pd.DataFrame(
        {
            label: sweep[f"{kind}: {key}"]
            for kind, label in names.items()
            if f"{kind}: {key}" in sweep.columns
        }
    )


def patch_recipe(info: dict) -> str:
    """'step 0.05, cosine decay, margin loss' from patch.json (older files lack the last two).

    Args:
        info: patch.json's contents.

    Returns:
        The recipe text.
    """
    parts = [f"step {info['learning_rate']:g}"]
    if info.get("lr_decay", "constant") != "constant":
        parts.append(f"{info['lr_decay']} decay")
    parts.append(f"{info.get('loss', 'ce')} loss")
    return ", ".join(parts)


def seed_lines(metrics_dirs: list, seeds: list[int], fraction: float, key: str, out) -> list[str]:
    """With several seeds: the clean-vs-patched table and the success sweep as mean ± std.

    Args:
        metrics_dirs: the `PatchMetrics` artefacts, one per seed.
        seeds: the seeds.
        fraction: the main patch fraction.
        key: the success column.
        out: the report artefact (the CSVs go there).

    Returns:
        Markdown lines ([] with one seed).
    """
    if len(seeds) < 2:
        return []
    mains, curves = [], []
    for artefact in metrics_dirs:
        entries = types.PatchMetrics.read(artefact)["entries"]
        mains.append(
            main_table(min(entries, key=lambda e: abs(e["requested_fraction"] - fraction)))
        )
        curves.append(success_curve(sweep_table(entries), key))
    head = f"## {seeds_heading(seeds)}, mean ± sample std"
    return [
        f"{head}: clean vs patched (the tables above are the first seed's)",
        "",
        spread_table(mains, seeds, out.path("patch_metrics_seeds.csv")),
        "",
        f"{head}: success vs patch area",
        "",
        spread_table(curves, seeds, out.path("success_vs_area_seeds.csv")),
        "",
    ]


class PatchReportExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        out = output_dict["report"][0]
        metrics = types.PatchMetrics.read(input_dict["metrics"][0])
        patch_dir = input_dict["patch"][0]
        info = read_json(patch_dir.path(types.Patch.JSON_FILE))
        entries = metrics["entries"]
        main = min(
            entries, key=lambda e: abs(e["requested_fraction"] - info["geometry"]["fraction"])
        )
        targeted = info["target_class"] is not None
        lines = [
            f"# {exec_properties['title']}",
            "",
            exec_properties["settings"],
            "",
            f"Held-out images: {metrics['num_images']}. Patch: {info['geometry']['cells']}×"
            f"{info['geometry']['cells']} cells, {info['geometry']['side_px']} px square "
            f"({main['area_fraction']:.1%} of the image), random position per image, "
            + (f"target class {info['target_class']}" if targeted else "untargeted")
            + f", {info['optimizer']} ({patch_recipe(info)}) for {info['steps']} steps"
            + f"{', EOT' if info['eot'] else ''}.",
            "",
            "## Clean vs patched",
            "",
            to_markdown(main_table(main)),
            "",
        ]
        if "patch_eot" in main:
            eot = info.get("eot_transforms") or {}
            lines += [
                f"EOT rows: the same patches pasted under random transformations (rotation up to "
                f"±{eot.get('max_rotation_deg', '?')}°, scale {eot.get('scale_range', '?')}, brightness "
                f"±{eot.get('brightness', '?')}, contrast ±{eot.get('contrast', '?')}), the ones the optimiser's "
                f"EOT draws; this patch was optimised {'with' if info['eot'] else 'without'} EOT.",
                "",
            ]
        write_csv(main_table(main), out.path("patch_metrics.csv"))
        sweep = sweep_table(entries)
        write_csv(sweep, out.path("success_vs_area.csv"))
        key = "targeted_success" if targeted else "untargeted_success"
        curve = success_curve(sweep, key)
        if len(sweep) > 1:
            plot_success_vs_area(curve, out.path("success_vs_area.png"), targeted)
        lines += ["## Success vs patch area", "", to_markdown(curve, "{:.3f}"), ""]
        if len(sweep) > 1:
            lines += ["![success vs area](success_vs_area.png)", ""]
        seeds = json.loads(exec_properties["seeds"] or "[]")
        fraction = info["geometry"]["fraction"]
        lines += seed_lines(input_dict["metrics"], seeds, fraction, key, out)
        lines += [
            "## Loss per iteration",
            "",
            "![loss](loss.png)",
            "",
            "The patch: [patch.png](patch.png) (victim resolution), [patch_large.png](patch_large.png) (32 px per "
            "cell), [patch.pdf](patch.pdf) (printable, grid drawn).",
            "",
            "![patch](patch_large.png)",
            "",
            f"The victim attacked: [{VICTIM_FILE}]({VICTIM_FILE}).",
            "",
        ]
        if input_dict.get("explanation"):
            explanation = input_dict["explanation"][0]
            cam = read_json(explanation.path(types.Explanation.JSON_FILE))
            shutil.copy(
                explanation.path(types.Explanation.PNG_FILE), out.path(types.Explanation.PNG_FILE)
            )
            table = pd.DataFrame(
                {
                    "clean image": [cam["mean_cam_share_in_patch_clean"]],
                    "patched image": [cam["mean_cam_share_in_patch_patched"]],
                    "patch area share": [cam["patch_area_share"]],
                },
                index=pd.Index(["Grad-CAM mass in patch square"], name="share"),
            )
            lines += [
                "## Grad-CAM",
                "",
                f"Layer `{cam['layer']}`, {len(cam['images'])} test images.",
                "",
                to_markdown(table, "{:.3f}"),
                "",
                f"![Grad-CAM]({types.Explanation.PNG_FILE})",
                "",
            ]
        for name in COPIED:
            if os.path.isfile(patch_dir.path(name)):
                shutil.copy(patch_dir.path(name), out.path(name))
        # The victim the numbers are about, beside them: a later study starts from it (--weights).
        victim = input_dict["model"][0]
        shutil.copy(types.VictimModel.path(victim), out.path(VICTIM_FILE))
        board = out.path("tensorboard")
        for source, target in (
            (patch_dir.path("tensorboard"), board),
            (victim.path("tensorboard"), os.path.join(board, "victim")),
        ):
            if os.path.isdir(source):
                shutil.copytree(source, target, dirs_exist_ok=True)
        types.Report.write(out, "\n".join(lines))


class PatchReport(BaseComponent):
    """Patch metrics + the main patch (+ Grad-CAM) → report.md, CSVs, plots, TensorBoard."""

    SPEC_CLASS = PatchReportSpec
    EXECUTOR_CLASS = PatchReportExecutor
    VERSION = "2"  # publishes victim.keras
