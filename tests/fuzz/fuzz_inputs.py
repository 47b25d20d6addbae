"""Small valid inputs for every CLI, made once per session; each fuzz case breaks one thing.

Why: a malformed-input case is only informative when everything else about the command is
valid, so the corpus starts from these and changes one file or one flag at a time.
"""

from __future__ import annotations

import dataclasses
import pathlib

import h5py
import numpy as np
from PIL import Image

NUM_CLASSES = 3
SEG_LABELS = {
    "000000000001": ["0 0.1 0.1 0.4 0.1 0.4 0.5 0.1 0.5", "1 0.6 0.2 0.9 0.2 0.75 0.9"],
    "000000000002": ["0 0.2 0.3 0.7 0.3 0.7 0.8 0.2 0.8"],
}
SEG_SIZE = (40, 60)  # (h, w) of every image of the tiny YOLO-seg folder


@dataclasses.dataclass(frozen=True)
class BaseInputs:
    """Paths of valid inputs (never modified by a case: cases copy what they break)."""

    root: pathlib.Path
    data_h5: pathlib.Path  # HackML data file, 6 images of 55x47x3, labels 0..2
    model_h5: pathlib.Path  # Keras-2 style weights-only DeepID BadNet, 3 classes
    model_keras: pathlib.Path  # the same network as a Keras 3 archive (a classifier)
    detector_h5: pathlib.Path  # a fitted VAE detector for 55x47x3 inputs
    seg_root: pathlib.Path  # YOLO-seg folder with data.yaml, images/val, labels/val
    predictions: list  # a valid COCO results list for seg_root's val split
    headpose_root: pathlib.Path  # 3 face images for head-pose sources
    headpose_examples: pathlib.Path  # a tiny synthetic head-pose Examples artefact

    @property
    def data_yaml(self) -> pathlib.Path:
        return self.seg_root / "data.yaml"


def _deepid(seed: int = 0):
    import keras

    from poison_tf.models.deepid_badnet import build_deepid_badnet

    keras.utils.set_random_seed(seed)
    return build_deepid_badnet(num_classes=NUM_CLASSES)


def write_keras2_weights(path: pathlib.Path, model) -> None:
    """A weights-only HDF5 in the Keras-2 layout the HackML BadNets use (layer_names etc.)."""
    from poison_tf.models.deepid_badnet import WEIGHTED_LAYERS

    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = np.array([n.encode() for n in WEIGHTED_LAYERS])
        for name in WEIGHTED_LAYERS:
            group = handle.create_group(name)
            weights = model.get_layer(name).get_weights()
            names = [f"{name}/{'kernel' if i == 0 else 'bias'}:0" for i in range(len(weights))]
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for weight_name, value in zip(names, weights):
                group.create_dataset(weight_name, data=value)


def write_data_h5(path: pathlib.Path, n: int = 6, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("data", data=rng.uniform(0, 255, (n, 3, 55, 47)).astype("float32"))
        handle.create_dataset("label", data=(np.arange(n) % NUM_CLASSES).astype("float32"))


def _seg_folder(root: pathlib.Path) -> None:
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
    h, w = SEG_SIZE
    for split in ("train", "val"):
        for stem, lines in SEG_LABELS.items():
            Image.new("RGB", (w, h), (90, 90, 90)).save(root / "images" / split / f"{stem}.png")
            (root / "labels" / split / f"{stem}.txt").write_text("".join(f"{x}\n" for x in lines))
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames: [car, person, bus]\n"
    )


def _predictions() -> list:
    return [
        {"image_id": 1, "category_id": 0, "bbox": [6.0, 4.0, 18.0, 16.0], "score": 0.9},
        {"image_id": 2, "category_id": 0, "bbox": [12.0, 12.0, 30.0, 20.0], "score": 0.8},
    ]


def _headpose(root: pathlib.Path) -> None:
    root.mkdir()
    for i in range(3):
        Image.new("RGB", (64, 64), (40 * i, 100, 150)).save(root / f"face{i}.png")


def _detector(path: pathlib.Path) -> None:
    from poison_tf.defences.vae import VAEDetector

    clean = np.random.default_rng(1).uniform(0, 1, (12, 55, 47, 3)).astype("float32")
    VAEDetector(latent_dim=2, epochs=1, batch_size=8, holdout=0.25).fit(clean).save(str(path))


def _headpose_examples(path: pathlib.Path) -> None:
    import shutil
    import tempfile

    from poison_tf.components.headpose.head_pose_example_gen import HeadPoseExampleGen

    with tempfile.TemporaryDirectory() as scratch:
        params = {"num_train": 4, "num_test": 2, "image_size": 16, "num_shards": 1}
        outputs = HeadPoseExampleGen.run_standalone({}, params, scratch)
        shutil.copytree(outputs["examples"].uri, path)


def make_base_inputs(root: pathlib.Path) -> BaseInputs:
    """Writes every base input under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    model = _deepid()
    write_keras2_weights(root / "model.h5", model)
    model.save(root / "model.keras")
    write_data_h5(root / "data.h5")
    _detector(root / "detector.h5")
    _seg_folder(root / "seg")
    _headpose(root / "heads")
    _headpose_examples(root / "headpose_examples")
    return BaseInputs(
        root,
        root / "data.h5",
        root / "model.h5",
        root / "model.keras",
        root / "detector.h5",
        root / "seg",
        _predictions(),
        root / "heads",
        root / "headpose_examples",
    )
