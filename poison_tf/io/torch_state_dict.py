"""Reading a PyTorch `state_dict` file without running code from it, and checking its tensors.

A `.pth` made by someone else is untrusted input: `torch.load(weights_only=True)` refuses any
pickled object that is not a tensor or a plain container, so nothing in the file can execute.
Every problem a user can cause (missing, truncated, non-torch file, a full pickled model, tensors
of another architecture, a shape mismatch) becomes a `UserInputError` naming the file and, for
tensors, their names and shapes, before any Keras model is touched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from poison_tf.errors import UserInputError

# BatchNorm's step counter: torch bookkeeping with no Keras counterpart.
IGNORED_SUFFIXES = (".num_batches_tracked",)
# How many names an error message lists before it says "and N more".
LISTED = 6


def _torch():
    try:
        import torch
    except ImportError:
        raise UserInputError(
            "importing PyTorch weights needs torch (pip install torch; CPU build is enough)"
        ) from None
    return torch


def load_state_dict(path: str) -> dict[str, np.ndarray]:
    """{tensor name: float32/int array} of a torch `state_dict` file, read with `weights_only`.

    Args:
        path: a `.pth` / `.pt` file holding a state_dict (optionally under "state_dict" or "model").

    Returns:
        The tensors as numpy arrays, in file order.

    Raises:
        UserInputError: the file is missing, not a torch file, truncated, holds pickled objects
            other than tensors, or holds no tensors.
    """
    if not os.path.isfile(path):
        raise UserInputError(f"--weights={path}: no such file")
    torch = _torch()
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types (UnpicklingError, RuntimeError, EOFError)
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if "weights_only" in str(error) or "Unsupported global" in str(error):
            raise UserInputError(
                f"--weights={path}: holds pickled Python objects, not only tensors (a full model "
                f"rather than a state_dict?); refusing to unpickle it: {first[:200]}"
            ) from None
        raise UserInputError(
            f"--weights={path}: not a readable PyTorch file (truncated or another format): "
            f"{type(error).__name__}: {first[:200]}"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
    if not isinstance(loaded, Mapping):
        raise UserInputError(
            f"--weights={path}: holds a {type(loaded).__name__}, not a state_dict of tensors"
        )
    tensors = {
        str(name): value.detach().cpu().numpy()
        for name, value in loaded.items()
        if isinstance(value, torch.Tensor) and not str(name).endswith(IGNORED_SUFFIXES)
    }
    if not tensors:
        raise UserInputError(f"--weights={path}: the state_dict holds no tensors")
    return tensors


def _listing(names: list[str], shapes: Mapping[str, tuple]) -> str:
    shown = ", ".join(f"{name} {tuple(shapes[name])}" for name in names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def check_tensors(
    path: str, source: str, expected: Mapping[str, tuple], found: Mapping[str, np.ndarray]
) -> None:
    """Refuses a state_dict whose names or shapes differ from what `source` needs.

    Args:
        path: the weights file (for the message).
        source: the `--source` kind (for the message).
        expected: {tensor name: torch shape} the architecture needs.
        found: the file's tensors.

    Raises:
        UserInputError: naming the missing and unexpected tensors, or the mismatched shapes.
    """
    found_shapes = {name: tuple(value.shape) for name, value in found.items()}
    missing = [name for name in expected if name not in found_shapes]
    unexpected = [name for name in found_shapes if name not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s): {_listing(missing, expected)}")
        if unexpected:
            parts.append(
                f"unexpected {len(unexpected)} tensor(s): {_listing(unexpected, found_shapes)}"
            )
        raise UserInputError(f"--weights={path} does not match {source}: " + "; ".join(parts))
    wrong = [name for name in expected if tuple(expected[name]) != found_shapes[name]]
    if wrong:
        shown = ", ".join(
            f"{name} is {found_shapes[name]}, needs {tuple(expected[name])}"
            for name in wrong[:LISTED]
        )
        more = f" and {len(wrong) - LISTED} more" if len(wrong) > LISTED else ""
        raise UserInputError(f"--weights={path}: shape mismatch for {source}: {shown}{more}")
