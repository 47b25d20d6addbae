"""PatchExplainer: Grad-CAM of any Keras classifier on clean and patched test images.

For `num_images` test images, the patch is pasted at a random position (clear of the keep-clear
box); Grad-CAM explains the predicted class of each image, through the last convolutional
layer by default or `gradcam_layer`. `gradcam.png` shows, per image, the clean image, its
map, the patched image and its map side by side; `gradcam.json` records the predictions and
the share of the (upsampled) map's mass inside the patch's square, on the clean image (the
same square, no patch: the baseline) and on the patched one, beside the square's share of
the image area.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from poison_tf import types
from poison_tf.attacks.grid_patch import apply_patch, place, random_offsets, render
from poison_tf.components.parameters import gradcam_layer_parameter, seed_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data.image_examples import read_schema
from poison_tf.errors import UserInputError
from poison_tf.explain.cam_mass import mass_share
from poison_tf.explain.gradcam import conv_layer_path, grad_cam, overlay
from poison_tf.io.atomic import save_figure, write_json


class PatchExplainerSpec(ComponentSpec):
    INPUTS = {
        "model": types.VictimModel.channel(),
        "examples": types.Examples.channel(),
        "patch": types.Patch.channel(),
    }
    OUTPUTS = {"explanation": types.Explanation.channel()}
    PARAMETERS = {
        "gradcam_layer": gradcam_layer_parameter(),
        "num_images": ExecutionParameter(
            int, default=4, help="test images shown in the Grad-CAM figure"
        ),
        "seed": seed_parameter(),
    }


def check_gradcam_layer(model: keras.Model, layer: str | None) -> str:
    """The feature layer's path name; UserInputError when the model has no such conv layer.

    Args:
        model: the victim classifier.
        layer: the layer's name, or None for the last conv layer.

    Returns:
        The layer's path name (nested models joined with "/").

    Raises:
        UserInputError: see above.
    """
    try:
        return "/".join(part.name for part in conv_layer_path(model, layer))
    except ValueError as error:
        flag = f"--gradcam_layer={layer}" if layer else "Grad-CAM (no --gradcam_layer)"
        raise UserInputError(f"{flag}: {error}; Grad-CAM needs a convolutional layer") from None


def plot_rows(images, patched, cams, names, predictions, masks, path: str) -> None:
    """One row per image: clean, patched, and the Grad-CAM of each (a PNG).

    Args:
        images: clean images [N, H, W, 3].
        patched: the same images patched.
        cams: (clean CAMs, patched CAMs).
        names: the class names.
        predictions: (clean, patched) predicted classes.
        masks: bool [N, H, W], where the patch lies (outlined on the patched CAM).
        path: the PNG file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(images)
    fig, axes = plt.subplots(count, 4, figsize=(9, 2.4 * count + 0.4), squeeze=False)
    for i, row in enumerate(axes):
        shown = [
            images[i],
            overlay(images[i], cams[0][i]),
            patched[i],
            overlay(patched[i], cams[1][i]),
        ]
        titles = [
            f"clean: {names[predictions[0][i]]}",
            "Grad-CAM clean",
            f"patched: {names[predictions[1][i]]}",
            "Grad-CAM patched",
        ]
        for column, (axis, image, title) in enumerate(zip(row, shown, titles)):
            axis.imshow(image, interpolation="nearest")
            if column == 3:
                axis.contour(masks[i], levels=[0.5], colors="white", linewidths=0.8)
            axis.set_title(title, fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
    fig.suptitle("Grad-CAM of the predicted class; white outline: the patch", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


class PatchExplainerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        keras.utils.set_random_seed(
            exec_properties["seed"]
        )  # same images cached or fresh (see PatchOptimizer)
        model = types.VictimModel.load(input_dict["model"][0])
        layer = exec_properties["gradcam_layer"] or None
        layer_path = check_gradcam_layer(model, layer)
        examples_dir = input_dict["examples"][0].uri
        names = list(read_schema(examples_dir)["label"].get("names") or [])
        images, labels = types.Examples.read_split(
            examples_dir, "test", max(1, exec_properties["num_images"]), exec_properties["seed"]
        )
        colours, geometry, info = types.Patch.load(input_dict["patch"][0])
        offsets = random_offsets(len(images), geometry, tf.constant([exec_properties["seed"], 2]))
        pixels = render(colours, geometry.side)
        patched = apply_patch(images, pixels, offsets).numpy()
        masks = place(pixels, offsets, geometry.height, geometry.width)[1].numpy()[..., 0] > 0.5
        predictions, cams = [], []
        for batch in (images, patched):
            predicted = np.argmax(np.asarray(model(batch, training=False)), axis=-1)
            index = tf.constant(predicted, tf.int32)
            cams.append(
                grad_cam(
                    model,
                    batch,
                    lambda y, index=index: tf.gather(y, index, axis=1, batch_dims=1),
                    layer=layer,
                )
            )
            predictions.append(predicted)
        names = (
            names
            if len(names) >= int(model.output_shape[-1])
            else [str(i) for i in range(model.output_shape[-1])]
        )
        out = output_dict["explanation"][0]
        plot_rows(
            images, patched, cams, names, predictions, masks, out.path(types.Explanation.PNG_FILE)
        )
        per_image = [
            {
                "label": names[int(labels[i])],
                "clean_prediction": names[int(predictions[0][i])],
                "patched_prediction": names[int(predictions[1][i])],
                "cam_share_in_patch_clean": mass_share(cams[0][i], masks[i]),
                "cam_share_in_patch_patched": mass_share(cams[1][i], masks[i]),
            }
            for i in range(len(images))
        ]

        def mean(key):
            values = [row[key] for row in per_image if row[key] is not None]
            return float(np.mean(values)) if values else None

        write_json(
            out.path(types.Explanation.JSON_FILE),
            {
                "layer": layer_path,
                "feature_map_size": list(cams[0].shape[1:]),
                "target_class": info["target_class"],
                "patch_area_share": geometry.area_fraction,
                "images": per_image,
                "mean_cam_share_in_patch_clean": mean("cam_share_in_patch_clean"),
                "mean_cam_share_in_patch_patched": mean("cam_share_in_patch_patched"),
            },
        )


class PatchExplainer(BaseComponent):
    """Grad-CAM of any Keras classifier on clean and patched test images."""

    VERSION = (
        "2"  # a seeded sample of test images (was the first N, one class on a class-sorted source)
    )
    SPEC_CLASS = PatchExplainerSpec
    EXECUTOR_CLASS = PatchExplainerExecutor
