"""Saving an imported model: one `.keras` file that carries where it came from, plus a JSON beside it.

Every importer (torchvision ResNets, EfficientNet-Lite0, Ultralytics YOLOv8-seg) returns
`(keras.Model, metadata)`; `save_imported_model` writes both. The metadata (source kind,
architecture, preprocessing, weights file and its SHA-256) goes into the `.keras` archive as an
extra member `poison_tf_import.json`, which Keras' loader ignores, so it works for any model class
and `keras.models.load_model(path)` stays a plain safe-mode load; `read_import_metadata` reads it
back. The same JSON is written beside the model (`<name>.json`) for people and scripts.
Both files are written under temporary names and renamed when complete.
"""

from __future__ import annotations

import json
import os
import zipfile

import keras

from poison_tf.errors import UserInputError
from poison_tf.io.atomic import atomic_path, write_json

METADATA_MEMBER = "poison_tf_import.json"
DEFAULT_DIR = "models"


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def metadata_path(model_path: str) -> str:
    """The JSON written beside `model.keras`: `model.json`."""
    return os.path.splitext(model_path)[0] + ".json"


def check_output_path(path: str, flag: str = "--output") -> str:
    """`path` if it names a `.keras` file in a folder that can be created; else UserInputError."""
    if not path.endswith(".keras"):
        raise UserInputError(f"{flag}={path}: must end with .keras")
    if os.path.isdir(path):
        raise UserInputError(f"{flag}={path}: is a folder")
    return path


def save_imported_model(model: keras.Model, metadata: dict, path: str) -> tuple[str, str]:
    """Writes `path` (.keras, metadata inside) and the metadata JSON beside it, atomically.

    Args:
        model: the imported Keras model.
        metadata: JSON-serialisable description (source, architecture, preprocessing, ...).
        path: the `.keras` file to write.

    Returns:
        (model path, JSON path).
    """
    check_output_path(path)
    record = dict(metadata, keras_file=os.path.basename(path))
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(METADATA_MEMBER, json.dumps(record, indent=2, sort_keys=True))
        json_path = metadata_path(path)
        write_json(json_path, record)
        for written in (tmp, json_path):  # mkstemp makes 0600 files; give them the usual mode
            os.chmod(written, _default_mode())
    return path, json_path


def read_import_metadata(path: str) -> dict | None:
    """The import metadata stored in a `.keras` file, or None for a model that was not imported."""
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        if METADATA_MEMBER not in archive.namelist():
            return None
        return json.loads(archive.read(METADATA_MEMBER))
