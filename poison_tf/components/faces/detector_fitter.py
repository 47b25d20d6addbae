"""DetectorFitter: fits one backdoor input detector on the CLEAN validation split only.

Kinds: `vae` (needs no model; saved as `VAE.h5`, the CSAW-HackML name), `strip`,
`fine_pruning` and `mahalanobis` (all three wrap the trained classifier; saved as
`<kind>.h5`). The defender never sees a trigger: only `val` images (and, for fine-pruning,
their labels) reach `fit`, which also calibrates the detector's threshold.
"""

from __future__ import annotations

import json

import keras

from poison_tf import types
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.errors import UserInputError

KINDS = ("vae", "strip", "fine_pruning", "mahalanobis")


def build_detector(kind: str, params: dict, model: keras.Model | None):
    """An unfitted detector of `kind` with the component's parameters.

    Args:
        kind: one of KINDS.
        params: the detector's keyword arguments.
        model: the trained classifier (None for the VAE, which needs none).

    Returns:
        The detector.

    Raises:
        UserInputError: an unknown kind, or a model-based kind without a model.
    """
    from poison_tf.defences.fine_pruning import FinePruningDetector
    from poison_tf.defences.mahalanobis import MahalanobisDetector
    from poison_tf.defences.strip import StripDetector
    from poison_tf.defences.vae import VAEDetector

    if kind == "vae":
        return VAEDetector(**params)
    classes = {
        "strip": StripDetector,
        "fine_pruning": FinePruningDetector,
        "mahalanobis": MahalanobisDetector,
    }
    if kind not in classes:
        raise UserInputError(f"--kind={kind!r}: choose one of {', '.join(KINDS)}")
    if model is None:
        raise UserInputError(f"detector {kind!r} needs the trained classifier (--model)")
    return classes[kind](model, **params)


class DetectorFitterSpec(ComponentSpec):
    INPUTS = {
        "examples": types.Examples.channel(),
        "model": types.FaceModel.channel(optional=True),
    }
    OUTPUTS = {"detector": types.Detector.channel()}
    PARAMETERS = {
        "kind": ExecutionParameter(str, help="vae | strip | fine_pruning | mahalanobis"),
        "params": ExecutionParameter(
            str, default="{}", help="JSON keyword arguments of the detector"
        ),
    }


class DetectorFitterExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        kind = exec_properties["kind"]
        try:
            params = json.loads(exec_properties["params"] or "{}")
        except json.JSONDecodeError as error:
            raise UserInputError(f"--params: not valid JSON ({error})") from None
        model = None
        if input_dict.get("model"):
            model = types.FaceModel.load(input_dict["model"][0])
        detector = build_detector(kind, params, model)
        x, y = types.Examples.read_split(input_dict["examples"][0], "val")
        detector.fit(x, y if kind == "fine_pruning" else None)
        out = output_dict["detector"][0]
        detector.save(out.path(types.Detector.file_name(kind)))
        out.properties.update(
            {"kind": kind, "threshold": float(detector.threshold), "fitted_on": "val"}
        )


class DetectorFitter(BaseComponent):
    """Fits one backdoor input detector on the CLEAN validation split only."""

    VERSION = "2"  # VAE threshold from held-out clean scores; fine-pruning fraction and rules
    SPEC_CLASS = DetectorFitterSpec
    EXECUTOR_CLASS = DetectorFitterExecutor
