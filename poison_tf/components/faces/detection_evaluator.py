"""DetectionEvaluator: a backdoored classifier and its detectors on clean and triggered test data.

Every trigger is evaluated on the model, not only its own backdoor (`backdoor`), so the report
shows that a trigger the model was not poisoned with neither fools it nor (for the model-based
detectors) gets flagged as much. The triggered set is every test image whose true class is not the attack target, with the
trigger stamped. Written: clean accuracy and attack success rate (share of triggered images
classified as the target), and per detector its threshold (from clean validation), the FRR on
the clean test set, the detection rate, ROC-AUC and the mean score on the clean set and on
each triggered set (the original study's table: clean threshold and mean reconstruction loss
per poisoned set). A detector that repairs the model (fine-pruning) also reports the repaired
model's clean accuracy and attack success rate on the model's own trigger (`repair`). Raw
scores go to `scores.npz` for the report's histograms.
"""

from __future__ import annotations

import io
import json
import os

import keras
import numpy as np

from poison_tf import types
from poison_tf.components.parameters import backdoor_parameters
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.defences.base import load_detector
from poison_tf.defences.metrics import detection_metrics
from poison_tf.io.atomic import atomic_file
from poison_tf.poison.triggers import trigger_from_config


class DetectionEvaluatorSpec(ComponentSpec):
    INPUTS = {
        "model": types.FaceModel.channel(),
        "examples": types.Examples.channel(),
        "detectors": types.Detector.channel(),
    }
    OUTPUTS = {"metrics": types.DetectionMetrics.channel()}
    PARAMETERS = {
        "triggers": ExecutionParameter(str, help='JSON {"<name>": <trigger config>, ...}'),
        **backdoor_parameters(),
        "batch_size": ExecutionParameter(int, default=256, help="images per scoring step"),
    }


def predict(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Argmax classes of `x`, in eager batches.

    Args:
        model: the face classifier.
        x: images [N, H, W, 3].
        batch_size: images per call.

    Returns:
        int64 [N].
    """
    return np.concatenate(
        [
            np.argmax(model(x[i : i + batch_size], training=False), axis=-1)
            for i in range(0, len(x), batch_size)
        ]
    )


class DetectionEvaluatorExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        model = types.FaceModel.load(input_dict["model"][0])
        x, y = types.Examples.read_split(input_dict["examples"][0], "test")
        batch, target = exec_properties["batch_size"], exec_properties["target"]
        metrics = {
            "backdoor": exec_properties["backdoor"],
            "num_clean": len(x),
            "clean_accuracy": float(np.mean(predict(model, x, batch) == y)),
            "attacks": {},
            "detectors": {},
        }
        triggered = {}
        for name, config in json.loads(exec_properties["triggers"]).items():
            triggered[name] = trigger_from_config(config).apply(x[y != target]).numpy()
            metrics["attacks"][name] = {
                "attack_success_rate": float(
                    np.mean(predict(model, triggered[name], batch) == target)
                ),
                "count": len(triggered[name]),
            }
        scores = {}
        for artifact in input_dict["detectors"]:
            files = [f for f in sorted(os.listdir(artifact.uri)) if f.endswith(".h5")]
            detector = load_detector(artifact.path(files[0]))
            kind = detector.kind
            clean = detector.score(x)
            scores[f"{kind}/clean"] = clean
            entry = {
                "threshold": float(detector.threshold),
                "frr": float(np.mean(clean > detector.threshold)),
                "mean_clean": float(np.mean(clean)),
                "triggers": {},
            }
            for name, images in triggered.items():
                poisoned = detector.score(images)
                scores[f"{kind}/{name}"] = poisoned
                entry["triggers"][name] = {
                    **detection_metrics(clean, poisoned, detector.threshold),
                    "mean_poisoned": float(np.mean(poisoned)),
                }
            backdoor = exec_properties["backdoor"]
            if hasattr(detector, "report") and backdoor in triggered:  # a repairing detector
                entry["repair"] = detector.report(x, y, triggered[backdoor], target)
            metrics["detectors"][kind] = entry
        out = output_dict["metrics"][0]
        types.DetectionMetrics.write(out, metrics)
        buffer = io.BytesIO()
        np.savez(buffer, **{k.replace("/", "__"): v for k, v in scores.items()})
        with atomic_file(out.path("scores.npz"), "wb") as handle:
            handle.write(buffer.getvalue())


class DetectionEvaluator(BaseComponent):
    """A backdoored classifier and its detectors on clean and triggered test data."""

    VERSION = "2"  # adds the repaired model's accuracy and attack success ("repair")
    SPEC_CLASS = DetectionEvaluatorSpec
    EXECUTOR_CLASS = DetectionEvaluatorExecutor
