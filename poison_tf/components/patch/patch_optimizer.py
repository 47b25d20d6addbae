"""PatchOptimizer: a victim classifier + examples → an optimised printable grid patch.

Optimises the k×k cell colours on the training split (`poison_tf.attacks.patch_optimizer`)
and writes `colours.npy`, `patch.json` (geometry, settings, final loss), `patch.png` (the
patch at the victim's pixel resolution), `patch_large.png` (32 px per cell), `patch.pdf`
(printable at `print_size_cm` with the grid drawn), `losses.csv` + `loss.png` (loss per iteration) and TensorBoard logs: the loss as
a scalar every step and the patch as an image every `image_every` steps.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from poison_tf import types
from poison_tf.attacks.grid_patch import PatchGeometry, render
from poison_tf.attacks.patch_optimizer import PatchConfig, check_classifier, optimise_patch
from poison_tf.components.parameters import parameter_values, seed_parameter, strategy_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.errors import UserInputError
from poison_tf.io.atomic import write_json
from poison_tf.report.patch_figures import plot_loss, save_patch_pdf, save_patch_png
from poison_tf.train.strategy import resolve_strategy


class PatchOptimizerSpec(ComponentSpec):
    INPUTS = {"model": types.VictimModel.channel(), "examples": types.Examples.channel()}
    OUTPUTS = {"patch": types.Patch.channel()}
    PARAMETERS = {
        "target_class": ExecutionParameter(int, default=0, help="target class id; -1 = untargeted"),
        "patch_fraction": ExecutionParameter(
            float, default=0.15, help="share of the image area the patch covers"
        ),
        "patch_cells": ExecutionParameter(
            int, default=10, help="k: the patch is k×k uniform cells"
        ),
        "keep_clear": ExecutionParameter(
            str, default="", help="y0,x0,y1,x1 box (pixels) the patch never covers"
        ),
        "steps": ExecutionParameter(int, default=500, help="optimisation steps"),
        "batch_size": ExecutionParameter(int, default=32, help="images per step"),
        "patch_optimizer": ExecutionParameter(
            str, default="adam", help="adam | signed (the study's per-cell sign step)"
        ),
        "patch_learning_rate": ExecutionParameter(
            float, default=0.05, help="step size of the patch optimiser"
        ),
        "patch_lr_decay": ExecutionParameter(
            str, default="constant", help="constant | cosine (to 5 % at the end)"
        ),
        "patch_loss": ExecutionParameter(
            str, default="ce", help="ce | margin (Carlini-Wagner on log-probabilities)"
        ),
        "eot": ExecutionParameter(
            bool, default=False, help="expectation over rotation, scale, brightness, contrast"
        ),
        "max_images": ExecutionParameter(
            int, default=0, help="optimise on N training images, a seeded sample (0 = all)"
        ),
        "image_every": ExecutionParameter(
            int, default=50, help="TensorBoard patch image every N steps"
        ),
        "print_size_cm": ExecutionParameter(
            float, default=10.0, help="side of the printed patch in the PDF, in centimetres"
        ),
        "seed": seed_parameter(),
        "strategy": strategy_parameter(),
    }


def parse_box(text: str) -> tuple[int, int, int, int] | None:
    """The `keep_clear` parameter as a box.

    Args:
        text: "y0,x0,y1,x1" in pixels, or "".

    Returns:
        (y0, x0, y1, x1), or None for "".

    Raises:
        UserInputError: not four integers with y0 < y1 and x0 < x1.
    """
    if not text:
        return None
    try:
        box = tuple(int(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or box[0] >= box[2] or box[1] >= box[3]:
        raise UserInputError(
            f"--keep_clear={text!r}: expected y0,x0,y1,x1 with y0 < y1 and x0 < x1"
        )
    return box


EOT_FIELDS = ("max_rotation_deg", "scale_range", "brightness", "contrast")


def eot_transforms(config: PatchConfig) -> dict:
    """The EOT ranges of `config`, as recorded in patch.json (used in training when `eot` is on).

    Args:
        config: the optimiser's settings.

    Returns:
        {field: value} of EOT_FIELDS.
    """
    return {name: getattr(config, name) for name in EOT_FIELDS}


def eot_config(info: dict) -> PatchConfig:
    """The EOT ranges a patch.json records (PatchConfig's defaults for files written before they were).

    Args:
        info: patch.json's contents.

    Returns:
        A PatchConfig with `eot` on.
    """
    recorded = info.get("eot_transforms") or {}
    values = {name: recorded[name] for name in EOT_FIELDS if name in recorded}
    if "scale_range" in values:
        values["scale_range"] = tuple(values["scale_range"])
    return PatchConfig(eot=True, **values)


class PatchOptimizerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        # Seeded tf.data shuffles and random ops also read TF's global seed, which the victim's
        # training sets (to this seed) only when it ran in this process: without this, a rerun
        # that finds the victim cached drew other images and positions than a fresh run.
        keras.utils.set_random_seed(p["seed"])
        examples_dir = input_dict["examples"][0].uri
        height, width = read_schema(examples_dir)["image_size"]
        geometry = PatchGeometry(
            height, width, p["patch_fraction"], p["patch_cells"], parse_box(p["keep_clear"])
        )
        geometry.check("PatchOptimizer")
        target = None if p["target_class"] == -1 else p["target_class"]
        model = types.VictimModel.load(input_dict["model"][0])
        check_classifier(model, (height, width, 3), target, "PatchOptimizer")
        config = PatchConfig(
            target=target,
            optimizer=p["patch_optimizer"],
            learning_rate=p["patch_learning_rate"],
            lr_decay=p["patch_lr_decay"],
            loss=p["patch_loss"],
            **parameter_values(p, "steps", "batch_size", "eot", "seed"),
        )
        # a seeded sample, not the head of the split: sources such as the CIFAR-10 npz are sorted by class
        dataset = image_examples_dataset(
            examples_dir, "train", shuffle_seed=p["seed"] if p["max_images"] > 0 else None
        )
        dataset = dataset.map(lambda e: (e["image"], e["label"]))
        if p["max_images"] > 0:
            dataset = dataset.take(p["max_images"]).cache()
        out = output_dict["patch"][0]
        writer = tf.summary.create_file_writer(
            out.path("tensorboard", f"patch_{p['patch_fraction'] * 100:g}pct")
        )

        def on_step(step: int, loss: float, colours: np.ndarray) -> None:
            with writer.as_default(step=step):
                tf.summary.scalar("patch/loss", loss)
                if step % max(1, p["image_every"]) == 0 or step == config.steps - 1:
                    tf.summary.image("patch/colours", render(colours, geometry.side)[None])

        result = optimise_patch(
            model, dataset, geometry, config, resolve_strategy(p["strategy"]), on_step
        )
        writer.flush()
        np.save(out.path(types.Patch.COLOURS_FILE), result.colours)
        save_patch_png(render(result.colours, geometry.side).numpy(), out.path("patch.png"))
        save_patch_png(
            render(result.colours, geometry.cells * 32).numpy(), out.path("patch_large.png")
        )
        size = p["print_size_cm"]
        save_patch_pdf(
            result.colours,
            out.path("patch.pdf"),
            size,
            f"{geometry.cells}×{geometry.cells} cells, {size:g} cm × {size:g} cm (print at 100 %); "
            f"target class {target if target is not None else 'none (untargeted)'}",
        )
        pd.DataFrame(
            {"iteration": np.arange(1, len(result.losses) + 1), "loss": result.losses}
        ).to_csv(out.path("losses.csv"), index=False)
        kind = f"targeted → class {target}" if target is not None else "untargeted"
        plot_loss(
            result.losses,
            out.path("loss.png"),
            f"patch loss ({kind}, {geometry.area_fraction:.1%} area, {config.optimizer}"
            f"{', EOT' if config.eot else ''})",
        )
        write_json(
            out.path(types.Patch.JSON_FILE),
            {
                "geometry": {
                    "height": height,
                    "width": width,
                    "fraction": p["patch_fraction"],
                    "cells": geometry.cells,
                    "keep_clear": list(geometry.keep_clear) if geometry.keep_clear else None,
                    "side_px": geometry.side,
                    "area_fraction": geometry.area_fraction,
                },
                "target_class": target,
                "optimizer": config.optimizer,
                "steps": config.steps,
                "eot": config.eot,
                "learning_rate": config.learning_rate,
                "lr_decay": config.lr_decay,
                "loss": config.loss,
                "batch_size": config.batch_size,
                "eot_transforms": eot_transforms(config),
                "final_loss": float(np.mean(result.losses[-10:])) if result.losses else None,
            },
        )
        out.properties["area_fraction"] = geometry.area_fraction
        os.makedirs(out.path("tensorboard"), exist_ok=True)


class PatchOptimizer(BaseComponent):
    """A victim classifier + examples → an optimised printable grid patch."""

    VERSION = "2"  # max_images: a seeded sample of the training split (was its first N images)
    SPEC_CLASS = PatchOptimizerSpec
    EXECUTOR_CLASS = PatchOptimizerExecutor
