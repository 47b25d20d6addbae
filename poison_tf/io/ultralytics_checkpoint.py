"""Reads an Ultralytics `.pt` file into plain numpy tensors + its yaml, safely when it can.

A checkpoint from someone else is untrusted input. Two layouts exist:
- a *state_dict* file (`{"model.0.conv.weight": tensor, ...}`, optionally under a `"model"` or
  `"state_dict"` key): `torch.load(weights_only=True)` reads it without running any code;
- the *full-object* file Ultralytics writes (`{"model": SegmentationModel, "ema": ..., "train_args",
  ...}`): the model is a pickled Python object, and unpickling it runs whatever code the file
  names. It is read only when the caller passes `trust_pickle=True` (and needs the `ultralytics`
  package importable); otherwise the error says so.

Everything returned is numpy (float32) and builtins, so nothing downstream touches torch.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import zipfile

import numpy as np

from poison_tf.errors import UserInputError, require
from poison_tf.io.file_hash import file_sha256

SAFE_LOAD_HINT = (
    "it is a full-object Ultralytics checkpoint (a pickled model): loading it runs code from the "
    "file; pass --trust_pickle (trust_pickle=True) only if you trust where it came from, or "
    "convert it to a plain state_dict first (torch.save(model.state_dict(), path))"
)


@dataclasses.dataclass
class UltralyticsCheckpoint:
    """What the importer needs from a `.pt` file."""

    path: str
    sha256: str
    layout: str  # "full-object" | "state_dict"
    tensors: dict[
        str, np.ndarray
    ]  # state_dict keys -> float32 arrays (num_batches_tracked dropped)
    yaml: dict | None  # the model's architecture yaml (full-object files only)
    names: dict[int, str] | None  # class index -> name, when the file has them
    train_args: dict  # the trainer's arguments (imgsz, data, ...) when the file has them
    version: str | None  # the Ultralytics version that wrote the file
    date: str | None
    head: str | None  # the class name of the last module (Segment, Detect, Classify, ...)


def _torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - the test extra installs torch
        raise UserInputError(
            "reading a .pt checkpoint needs PyTorch (pip install torch, the CPU build is enough)"
        ) from error
    return torch


def _is_torch_file(path: str) -> bool:
    """A torch save is a zip archive (torch >= 1.6; a truncated one still starts with the zip
    magic) or a legacy pickle stream (protocol opcode 0x80)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    return head == b"PK\x03\x04" or head[:1] == b"\x80"


def _load(path: str, trust_pickle: bool):
    """torch.load with weights_only=True; the full unpickler only when trusted and needed."""
    torch = _torch()
    require(os.path.isfile(path), f"{path}: no such file")
    require(
        _is_torch_file(path),
        f"{path}: not a PyTorch checkpoint (neither a torch zip archive nor a pickle)",
    )
    try:
        return torch.load(path, map_location="cpu", weights_only=True), "state_dict"
    except pickle.UnpicklingError as error:
        if "Unsupported global" not in str(error) and "weights_only" not in str(error):
            raise UserInputError(f"{path}: not a readable PyTorch checkpoint ({error})") from error
        if not trust_pickle:
            raise UserInputError(f"{path}: {SAFE_LOAD_HINT}") from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile) as error:
        raise UserInputError(
            f"{path}: truncated or corrupt PyTorch checkpoint ({str(error).splitlines()[0]})"
        ) from error
    # Trusted: the full unpickler, which imports the ultralytics classes it names; importing
    # ultralytics probes the network unless told it is offline (builders never reach the network).
    os.environ.setdefault("YOLO_OFFLINE", "True")
    try:
        return torch.load(path, map_location="cpu", weights_only=False), "full-object"
    except ModuleNotFoundError as error:
        raise UserInputError(
            f"{path}: unpickling needs the package {error.name!r} that wrote it "
            "(pip install ultralytics for Ultralytics checkpoints)"
        ) from error
    except Exception as error:  # noqa: BLE001 - any failure inside foreign pickled code
        raise UserInputError(f"{path}: could not unpickle the checkpoint ({error})") from error


def _numpy_tensors(state: dict, path: str) -> dict[str, np.ndarray]:
    torch = _torch()
    out = {}
    for key, value in state.items():
        require(
            isinstance(key, str) and isinstance(value, torch.Tensor),
            f"{path}: not a state_dict of tensors (entry {key!r} is {type(value).__name__})",
        )
        if key.endswith("num_batches_tracked"):
            continue
        out[key] = value.detach().to(torch.float32).cpu().numpy()
    return out


def _as_names(names) -> dict[int, str] | None:
    if isinstance(names, dict):
        return {int(k): str(v) for k, v in names.items()}
    if isinstance(names, list | tuple):
        return dict(enumerate(str(v) for v in names))
    return None


def _from_object(payload: dict, path: str) -> dict:
    """The model object of a full-object checkpoint ("ema" during training, else "model")."""
    torch = _torch()
    model = payload.get("ema") if payload.get("ema") is not None else payload.get("model")
    require(
        isinstance(model, torch.nn.Module),
        f"{path}: the checkpoint holds no model (its 'model' / 'ema' entries are empty)",
    )
    layers = getattr(model, "model", None)
    head = type(layers[-1]).__name__ if isinstance(layers, torch.nn.Sequential) else None
    return {
        "tensors": _numpy_tensors(model.state_dict(), path),
        "yaml": getattr(model, "yaml", None),
        "names": _as_names(getattr(model, "names", None)),
        "head": head or type(model).__name__,
    }


def read_checkpoint(path: str, trust_pickle: bool) -> UltralyticsCheckpoint:
    """Reads `path` (see the module docstring for the layouts it takes).

    Args:
        path: the `.pt` file.
        trust_pickle: allow full unpickling of a full-object checkpoint (runs code from the file).

    Returns:
        The tensors as float32 numpy arrays plus the yaml, class names and trainer arguments the
        file carries.

    Raises:
        UserInputError: a missing, truncated or non-torch file, a full-object file without
            `trust_pickle`, or a file that holds no model.
    """
    payload, layout = _load(path, trust_pickle)
    fields: dict = {"yaml": None, "names": None, "head": None}
    if layout == "full-object":
        require(isinstance(payload, dict), f"{path}: not an Ultralytics checkpoint dict")
        fields |= _from_object(payload, path)
    else:
        require(
            isinstance(payload, dict),
            f"{path}: holds a {type(payload).__name__}, not a checkpoint dict or a state_dict",
        )
        state = payload
        for key in ("model", "ema", "state_dict"):
            if isinstance(payload.get(key), dict):
                state = payload[key]
                break
        fields["tensors"] = _numpy_tensors(state, path)
        fields["names"] = _as_names(payload.get("names"))
    require(bool(fields["tensors"]), f"{path}: the checkpoint holds no tensors")
    info = payload if isinstance(payload, dict) else {}
    train_args = info.get("train_args") if isinstance(info.get("train_args"), dict) else {}
    return UltralyticsCheckpoint(
        path=os.path.abspath(path),
        sha256=file_sha256(path),
        layout=layout,
        tensors=fields["tensors"],
        yaml=fields["yaml"] if isinstance(fields["yaml"], dict) else None,
        names=fields["names"],
        train_args=dict(train_args),
        version=str(info["version"]) if info.get("version") else None,
        date=str(info["date"]) if info.get("date") else None,
        head=fields["head"],
    )
