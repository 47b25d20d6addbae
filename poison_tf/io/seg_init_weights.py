"""`--init_weights` for the segmentation trainers: a `.pt` (Ultralytics) or `.keras` YOLOv8-seg.

The original clean-image study fine-tuned a pretrained YOLOv8-seg on its data; this is the file
side of that: the trainer builds its model for the data (image size, class count) and copies in
what this returns (`poison_tf.models.yolo_seg_transfer.initialise_from`). A `.keras` file is
loaded in safe mode (no Lambda, only registered classes); a `.pt` file goes through the
Ultralytics importer, with its pickle rule (`trust_pickle`).
"""

from __future__ import annotations

import os

import keras

from poison_tf.errors import UserInputError, require
from poison_tf.io.file_hash import file_sha256
from poison_tf.io.ultralytics_checkpoint import read_checkpoint
from poison_tf.io.ultralytics_import import import_checkpoint
from poison_tf.models.yolo_v8_seg import YoloV8Seg

SUFFIXES = (".pt", ".pth", ".keras")


def check_init_weights(path: str, trust_pickle: bool) -> str:
    """Fails early (before any training) on a file the trainer could not start from.

    Returns:
        The file's sha256, for the trainer's cache fingerprint (a new file at the same path
        retrains).
    """
    flag = f"--init_weights={path}"
    require(os.path.isfile(path), f"{flag}: no such file")
    require(
        path.endswith(SUFFIXES),
        f"{flag}: expected an Ultralytics .pt or a YOLOv8-seg .keras file",
    )
    if not path.endswith(".keras"):
        read_checkpoint(path, trust_pickle)  # the pickle rule and a readable file
    return file_sha256(path)


def load_init_model(path: str, trust_pickle: bool = False) -> YoloV8Seg:
    """The YOLOv8-seg stored in `path` (`.pt` imported, `.keras` loaded in safe mode).

    Raises:
        UserInputError: a missing, unreadable or unsafe file, or a model that is not YOLOv8-seg.
    """
    check_init_weights(path, trust_pickle)
    if path.endswith(".keras"):
        try:
            model = keras.models.load_model(path, compile=False, safe_mode=True)
        except Exception as error:  # noqa: BLE001 - a foreign file can fail in many ways
            raise UserInputError(f"--init_weights={path}: cannot load it ({error})") from error
    else:
        model, _ = import_checkpoint(read_checkpoint(path, trust_pickle))
    require(
        isinstance(model, YoloV8Seg),
        f"--init_weights={path}: a {type(model).__name__}, not a YOLOv8-seg model",
    )
    return model
