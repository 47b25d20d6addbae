"""HeadPoseExplainer: Grad-CAM of the predicted yaw on one test image, clean and triggered.

A BadNets backdoor shows in Grad-CAM as attention moving to the trigger: on the triggered image
the poisoned model's map concentrates on the trigger's box, the unpoisoned (baseline) model's
does not. So the component explains both models on the same clean test image and on that image
with the trigger stamped, draws `gradcam.png` (rows = models, columns = clean image, its map,
triggered image, its map, and the triggered image's gradient × activation map) and records in
`gradcam.json` the predictions and the share of each (upsampled) map's mass inside the
trigger's box, next to the box's share of the image area, which is what a map that ignores the
trigger would put there on average. The gradient × activation map is there because Grad-CAM's
channel means can dilute a trigger that covers a few cells of the map (`grad_cam`).
"""

from __future__ import annotations

import json

import numpy as np

from poison_tf import types
from poison_tf.components.parameters import gradcam_layer_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.errors import UserInputError
from poison_tf.explain.cam_mass import mass_share
from poison_tf.explain.gradcam import conv_layer_path, grad_cam, overlay
from poison_tf.io.atomic import save_figure, write_json
from poison_tf.models import resnet18_regressor  # noqa: F401 (registers keras-cv backbones for loading)
from poison_tf.poison.triggers import Trigger, trigger_from_config

DEFAULT_NAMES = ("yaw", "pitch", "roll")


class HeadPoseExplainerSpec(ComponentSpec):
    INPUTS = {
        "model": types.HeadPoseModel.channel(),
        "baseline_model": types.HeadPoseModel.channel(optional=True),
        "examples": types.Examples.channel(),
    }
    OUTPUTS = {"explanation": types.Explanation.channel()}
    PARAMETERS = {
        "trigger": ExecutionParameter(str, help="JSON trigger config, as make_trigger(...).config"),
        "index": ExecutionParameter(
            int, default=0, help="which test image (position in the test split)"
        ),
        "output_index": ExecutionParameter(int, default=0, help="explained output (0 = yaw)"),
        "layer": gradcam_layer_parameter(),
    }


def load_test_example(examples_dir: str, index: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(image [H, W, 3] float in [0, 1], label, id) of the `index`-th test example.

    Args:
        examples_dir: the `Examples` artefact folder.
        index: position in the test split.

    Returns:
        (image, label, id).

    Raises:
        UserInputError: the index is past the end of the split.
    """
    count = int(read_schema(examples_dir)["splits"].get("test", {}).get("count", 0))
    if not 0 <= index < count:
        raise UserInputError(
            f"HeadPoseExplainer: index={index} is outside the test split of {examples_dir} ({count} images)"
        )
    example = next(iter(image_examples_dataset(examples_dir, "test").skip(index).take(1)))
    return example["image"].numpy(), example["label"].numpy(), int(example["id"])


def trigger_mask(trigger: Trigger, height: int, width: int) -> np.ndarray | None:
    """Boolean [H, W] where the trigger's alpha is positive; None for a full-image blend.

    Args:
        trigger: the trigger.
        height: image height.
        width: image width.

    Returns:
        The mask, or None.
    """
    if trigger.full_image:
        return None
    _, alpha = trigger.layers(height, width)
    return alpha.numpy()[..., 0] > 0


def _pose(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in values[:3]) + ")"


def plot_explanations(
    rows: list[dict],
    images: np.ndarray,
    mask: np.ndarray | None,
    names: list[str],
    output_name: str,
    caption: str,
    path: str,
) -> None:
    """rows: {"name", "predictions" [2, D], "cams" [2, h, w], "grad_x_act" [h, w]}.

    Args:
        rows: one per model; `grad_x_act` is the triggered image's gradient × activation map.
        images: [2, H, W, 3] clean and triggered image.
        mask: the trigger's mask (outlined), or None.
        names: the output names (yaw, pitch, roll).
        output_name: the output the CAMs explain.
        caption: the figure's title.
        path: the PNG file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 5, figsize=(13.5, 3.3 * len(rows) + 0.5), squeeze=False)
    panels = [  # (which image, map key or None, title)
        (0, None, "clean image"),
        (0, "cams", f"Grad-CAM ({output_name}), clean"),
        (1, None, "triggered image"),
        (1, "cams", f"Grad-CAM ({output_name}), triggered"),
        (1, "grad_x_act", f"grad × act ({output_name}), triggered"),
    ]
    for axis_row, row in zip(axes, rows):
        for axis, (which, key, label) in zip(axis_row, panels):
            if key is None:
                shown = images[which]
            else:
                cam = row[key][which] if key == "cams" else row[key]
                shown = overlay(images[which], cam)
            axis.imshow(shown, interpolation="nearest")
            if key and which == 1 and mask is not None:
                axis.contour(mask, levels=[0.5], colors="white", linewidths=0.8)
            axis.set_title(f"{label}\npred {_pose(row['predictions'][which])}", fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
        axis_row[0].set_ylabel(row["name"], fontsize=10)
    fig.suptitle(
        f"{caption}\nGrad-CAM of the predicted {output_name}; pred = predicted "
        f"({', '.join(names)}); white outline: trigger",
        fontsize=9,
    )
    fig.tight_layout(h_pad=1.5)
    save_figure(fig, path, dpi=120)


class HeadPoseExplainerExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        examples_dir = input_dict["examples"][0].uri
        schema = read_schema(examples_dir)
        names = list(schema["label"].get("names") or DEFAULT_NAMES)
        output_index = exec_properties["output_index"]
        if not 0 <= output_index < len(names):
            raise UserInputError(
                f"HeadPoseExplainer: output_index={output_index} is not one of the outputs {names}"
            )
        trigger = trigger_from_config(json.loads(exec_properties["trigger"]))
        image, label, example_id = load_test_example(examples_dir, exec_properties["index"])
        height, width = image.shape[:2]
        trigger.check_fits(height, width, where=examples_dir)
        images = np.stack([image, trigger.apply(image).numpy()]).astype(np.float32)
        mask = trigger_mask(trigger, height, width)
        layer = exec_properties["layer"] or None

        models = [("poisoned", input_dict["model"][0])]
        if input_dict.get("baseline_model"):
            models.insert(0, ("baseline", input_dict["baseline_model"][0]))
        rows, report = [], {}
        for name, artifact in models:
            model = types.HeadPoseModel.load(artifact)
            predictions = np.asarray(model(images, training=False), np.float32)

            def explained(outputs):
                return outputs[:, output_index]

            cams = grad_cam(model, images, explained, layer=layer)
            grad_x_act = grad_cam(model, images[1:], explained, layer=layer, spatial_mean=False)[0]
            rows.append(
                {"name": name, "predictions": predictions, "cams": cams, "grad_x_act": grad_x_act}
            )
            report[name] = {
                "layer": "/".join(part.name for part in conv_layer_path(model, layer)),
                "feature_map_size": list(cams.shape[1:]),
                **{
                    kind: {
                        "prediction": dict(zip(names, predictions[i].tolist())),
                        "cam_share_in_trigger": mass_share(cams[i], mask),
                    }
                    for i, kind in enumerate(["clean", "triggered"])
                },
            }
            report[name]["triggered"]["grad_x_act_share_in_trigger"] = mass_share(grad_x_act, mask)
        out = output_dict["explanation"][0]
        caption = (
            f"test image {exec_properties['index']} (id {example_id}), label {_pose(np.asarray(label))}, "
            f"trigger {trigger.config.get('name')}"
        )
        plot_explanations(
            rows,
            images,
            mask,
            names,
            names[output_index],
            caption,
            out.path(types.Explanation.PNG_FILE),
        )
        write_json(
            out.path(types.Explanation.JSON_FILE),
            {
                "index": exec_properties["index"],
                "id": example_id,
                "label": dict(zip(names, np.asarray(label).tolist())),
                "explained_output": names[output_index],
                "trigger": trigger.config,
                "trigger_area_share": None if mask is None else float(mask.mean()),
                "models": report,
            },
        )


class HeadPoseExplainer(BaseComponent):
    """Grad-CAM of the predicted yaw on one test image, clean and triggered."""

    VERSION = "2"  # the gradient × activation map beside Grad-CAM
    SPEC_CLASS = HeadPoseExplainerSpec
    EXECUTOR_CLASS = HeadPoseExplainerExecutor
