"""Artefact types: each type's name, the files it holds and typed readers / writers.

TFX keeps its artefact types in `tfx/types/standard_artifacts.py`; this is the project's one
home for them. A component declares its channels with `<Type>.channel()` and reads or writes
an artefact's files through the type (`types.PoisonPlan.load(artifact)`), so no component
imports another component to learn a file name. Model artefacts are told apart by study
(`HeadPoseModel`, `FaceModel`, `VictimModel`, `SegModel`): wiring a face model into the
head-pose evaluator fails when the pipeline is built, not deep inside a run.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from poison_tf.dag.artifact import Artifact
from poison_tf.dag.spec import ChannelParameter
from poison_tf.io.atomic import atomic_file, read_json, write_json

if TYPE_CHECKING:
    import keras

    from poison_tf.attacks.class_pairs import ClassPair
    from poison_tf.attacks.grid_patch import PatchGeometry
    from poison_tf.poison import plan as poison_plan
    from poison_tf.poison.relabel_plan import RelabelPlan as RelabelPlanValue


class ArtifactType:
    """Base of the artefact types: a type name and the channel that carries it."""

    TYPE_NAME: ClassVar[str] = ""

    @classmethod
    def channel(cls, optional: bool = False, help: str = "") -> ChannelParameter:
        """The spec entry of an input or output of this type.

        Args:
            optional: an input that may be left unconnected.
            help: what the channel holds beyond its type (see `ChannelParameter`).

        Returns:
            `ChannelParameter(cls.TYPE_NAME, optional, help)`.
        """
        return ChannelParameter(cls.TYPE_NAME, optional, help)


class Examples(ArtifactType):
    """Sharded TFRecords + `schema.json` (readers: `poison_tf.data.image_examples`, `seg_examples`)."""

    TYPE_NAME = "Examples"

    @staticmethod
    def read_split(
        artifact: Artifact | str, split: str, limit: int = 0, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """The images and labels of one split of image examples, as arrays.

        Args:
            artifact: the Examples artefact (or its URI).
            split: train, val or test.
            limit: keep a seeded sample of this many (0 = all, in order); sources may be sorted
                by class, so a plain prefix would not be a fair sample.
            seed: the sample's shuffle seed.

        Returns:
            (float32 [N, H, W, 3] in [0, 1], labels [N] (int64 classes)).
        """
        from poison_tf.data.image_examples import image_examples_dataset

        uri = artifact.uri if isinstance(artifact, Artifact) else artifact
        dataset = image_examples_dataset(uri, split, shuffle_seed=seed if limit > 0 else None)
        if limit > 0:
            dataset = dataset.take(limit)
        images, labels = [], []
        for batch in dataset.batch(512):
            images.append(batch["image"].numpy())
            labels.append(batch["label"].numpy())
        return np.concatenate(images), np.concatenate(labels).reshape(-1)


class Model(ArtifactType):
    """A trained Keras model (`model.keras`), its `history.json` and `tensorboard/` logs."""

    TYPE_NAME = "Model"
    FILE = "model.keras"
    HISTORY_FILE = "history.json"
    TENSORBOARD_DIR = "tensorboard"

    @classmethod
    def path(cls, artifact: Artifact) -> str:
        """The model file of `artifact`."""
        return artifact.path(cls.FILE)

    @classmethod
    def load(cls, artifact: Artifact) -> keras.Model:
        """The model, uncompiled (the project's own file: safe_mode stays on).

        Args:
            artifact: a model artefact of this type.

        Returns:
            The loaded `keras.Model`.
        """
        import keras

        return keras.models.load_model(cls.path(artifact), compile=False)

    @classmethod
    def save(cls, model: keras.Model, artifact: Artifact) -> None:
        """Saves `model` as the artefact's model file."""
        model.save(cls.path(artifact))

    @classmethod
    def history(cls, artifact: Artifact) -> list[dict[str, Any]]:
        """The per-epoch history of the training (empty when none was logged)."""
        path = artifact.path(cls.HISTORY_FILE)
        return (read_json(path) or []) if os.path.isfile(path) else []

    @classmethod
    def last_epoch(cls, artifact: Artifact) -> dict[str, Any]:
        """The history's last epoch (its metrics by name; empty when none was logged)."""
        return (cls.history(artifact) or [{}])[-1]

    @classmethod
    def copy_tensorboard(cls, artifact: Artifact, out_dir: str, label: str) -> None:
        """Copies the training's TensorBoard logs (if any) to `<out_dir>/tensorboard/<label>`.

        Args:
            artifact: the model artefact.
            out_dir: a report folder.
            label: the run's name in TensorBoard.
        """
        source = artifact.path(cls.TENSORBOARD_DIR)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(out_dir, "tensorboard", label), dirs_exist_ok=True)


class HeadPoseModel(Model):
    """The head-pose regressor of the BadNets regression study (yaw, pitch, roll)."""

    TYPE_NAME = "HeadPoseModel"


class FaceModel(Model):
    """The DeepID-style face classifier of the backdoor detection study."""

    TYPE_NAME = "FaceModel"


class VictimModel(Model):
    """The classifier the adversarial patch attacks (trained or imported)."""

    TYPE_NAME = "VictimModel"


class SegModel(Model):
    """The YOLOv8-seg instance segmenter of the segmentation and clean-image studies."""

    TYPE_NAME = "SegModel"

    @classmethod
    def load(cls, artifact: Artifact) -> keras.Model:
        """The trained segmenter (EMA weights); registers the model class first."""
        from poison_tf.models import yolo_v8_seg  # noqa: F401 (registers the class for loading)

        return super().load(artifact)


class _Plan(ArtifactType):
    """A plan artefact: `plan.json`, read and written by the plan class `_value_class()` names."""

    FILE = "plan.json"

    @classmethod
    def _value_class(cls) -> Any:
        raise NotImplementedError

    @classmethod
    def load(cls, artifact: Artifact, file: str | None = None) -> Any:
        """The plan in the artefact's `file` (default `plan.json`)."""
        return cls._value_class().load(artifact.path(file or cls.FILE))

    @classmethod
    def load_optional(cls, artifacts: list[Artifact] | None) -> Any:
        """The plan of an optional input (None when the input is not connected)."""
        return cls.load(artifacts[0]) if artifacts else None

    @classmethod
    def save(cls, plan: Any, artifact: Artifact, file: str | None = None) -> None:
        """Writes `plan` as the artefact's `file` (default `plan.json`)."""
        plan.save(artifact.path(file or cls.FILE))


class PoisonPlan(_Plan):
    """`plan.json`: poisoned example ids, trigger, label rule, seed (`poison_tf.poison.plan`)."""

    TYPE_NAME = "PoisonPlan"

    @classmethod
    def _value_class(cls) -> type[poison_plan.PoisonPlan]:
        from poison_tf.poison.plan import PoisonPlan as Plan

        return Plan


class RelabelPlan(_Plan):
    """Clean-image plan: `plan.json` (train) and, when the host is in val, `val_plan.json`.

    Readers: `load` (the training split's plan), `load_val` (the same rule on val, or None).
    """

    TYPE_NAME = "RelabelPlan"
    VAL_FILE = "val_plan.json"

    @classmethod
    def _value_class(cls) -> type[RelabelPlanValue]:
        from poison_tf.poison.relabel_plan import RelabelPlan as Plan

        return Plan

    @classmethod
    def load_val(cls, artifact: Artifact) -> RelabelPlanValue | None:
        """The same rule on the validation split, or None (no host instance in val)."""
        exists = os.path.isfile(artifact.path(cls.VAL_FILE))
        return cls.load(artifact, cls.VAL_FILE) if exists else None


class ClassPairs(ArtifactType):
    """Host → target pairs (`pairs.json`) with the t-SNE ranking and its scatter plot."""

    TYPE_NAME = "ClassPairs"
    FILE = "pairs.json"
    RANKING_CSV = "ranking.csv"
    RANKING_MD = "ranking.md"
    SCATTER_PNG = "tsne.png"

    @classmethod
    def load(cls, artifact: Artifact) -> list[ClassPair]:
        """The pairs, in the selector's order."""
        from poison_tf.attacks.class_pairs import ClassPair

        return [ClassPair.from_json(p) for p in read_json(artifact.path(cls.FILE))]

    @classmethod
    def save(cls, pairs: list[ClassPair], artifact: Artifact) -> None:
        """Writes the pairs."""
        write_json(artifact.path(cls.FILE), [pair.to_json() for pair in pairs])


class Metrics(ArtifactType):
    """Numbers of one evaluation as `metrics.json`."""

    TYPE_NAME = "Metrics"
    FILE = "metrics.json"

    @classmethod
    def read(cls, artifact: Artifact) -> dict:
        """The metrics dictionary."""
        return read_json(artifact.path(cls.FILE))

    @classmethod
    def write(cls, artifact: Artifact, metrics: dict) -> None:
        """Writes the metrics dictionary."""
        write_json(artifact.path(cls.FILE), metrics)


class HeadPoseMetrics(Metrics):
    """Clean MAE and attack MAE of one head-pose model."""

    TYPE_NAME = "HeadPoseMetrics"


class DetectionMetrics(Metrics):
    """FRR / FAR / ROC-AUC of the backdoor input detectors."""

    TYPE_NAME = "DetectionMetrics"


class PatchMetrics(Metrics):
    """Clean / patched accuracy and success per patch, and success against patch area."""

    TYPE_NAME = "PatchMetrics"
    SWEEP_FILE = "success_vs_area.csv"


class SegMetrics(ArtifactType):
    """Ultralytics-`val` tables of a segmenter, its predictions, and the attack's success."""

    TYPE_NAME = "SegMetrics"
    TABLE_CSV = "table.csv"
    TABLE_TXT = "table.txt"
    SUMMARY_FILE = "summary.json"
    ATTACK_FILE = "attack.json"
    POISONED_LABELS_CSV = "table_poisoned_labels.csv"
    COCO_RESULTS = "coco_results.json"
    YOLO_LABELS_DIR = "labels"


class Patch(ArtifactType):
    """An optimised grid patch: `colours.npy` (k × k × 3), `patch.json` (geometry, losses, …)."""

    TYPE_NAME = "Patch"
    COLOURS_FILE = "colours.npy"
    JSON_FILE = "patch.json"

    @classmethod
    def load(cls, artifact: Artifact) -> tuple[np.ndarray, PatchGeometry, dict]:
        """(colours [k, k, 3], geometry, the patch.json record) of a Patch artefact."""
        from poison_tf.attacks.grid_patch import PatchGeometry

        info = read_json(artifact.path(cls.JSON_FILE))
        g = info["geometry"]
        geometry = PatchGeometry(
            g["height"],
            g["width"],
            g["fraction"],
            g["cells"],
            tuple(g["keep_clear"]) if g["keep_clear"] else None,
        )
        return np.load(artifact.path(cls.COLOURS_FILE)), geometry, info


class Explanation(ArtifactType):
    """Grad-CAM figure (`gradcam.png`) and its numbers (`gradcam.json`)."""

    TYPE_NAME = "Explanation"
    PNG_FILE = "gradcam.png"
    JSON_FILE = "gradcam.json"


class Detector(ArtifactType):
    """A fitted backdoor input detector (`VAE.h5` as HackML names it, else `<kind>.h5`)."""

    TYPE_NAME = "Detector"

    @staticmethod
    def file_name(kind: str) -> str:
        """The detector file of `kind`."""
        return "VAE.h5" if kind == "vae" else f"{kind}.h5"


class Report(ArtifactType):
    """A study's Markdown report, CSV tables and figures (`report.md` and what it links)."""

    TYPE_NAME = "Report"
    FILE = "report.md"

    @classmethod
    def write(cls, artifact: Artifact, text: str) -> None:
        """Writes `report.md` atomically: a crash never leaves half a report."""
        with atomic_file(artifact.path(cls.FILE)) as handle:
            handle.write(text)

    @classmethod
    def write_sections(cls, artifact: Artifact, sections: list[str]) -> None:
        """Writes `report.md` from Markdown sections: a blank line between, empty ones left out."""
        cls.write(artifact, "\n\n".join(s for s in sections if s) + "\n")
