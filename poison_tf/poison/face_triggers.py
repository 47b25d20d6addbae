"""Face triggers drawn by code as full-frame RGBA images for 55×47 aligned faces.

`sunglasses` (two dark lenses and a bridge over the eye line), `eyebrows` (thick dark strokes
above the eyes) and `lipstick` (a red mouth). Positions follow the layout of
`poison_tf.data.synthetic_faces` (EYE_ROW, BROW_ROW, MOUTH_ROW), which is also where the
LFW crop of SOURCES.md puts eyes and mouth. Each is used through the existing `image` trigger:
the RGBA frame is as large as the image and pasted at the top-left corner with no margin, so
alpha is 0 everywhere but on the drawn accessory. Plans record a trigger by its parameters, so
the frame is written as a PNG (`write_face_trigger`) and referred to by path.
"""

from __future__ import annotations

import os

import numpy as np

from poison_tf.data.synthetic_faces import (
    BROW_ROW,
    EYE_COLS,
    EYE_ROW,
    HEIGHT,
    MOUTH_COL,
    MOUTH_ROW,
    WIDTH,
)
from poison_tf.errors import UserInputError
from poison_tf.io.atomic import atomic_path
from poison_tf.poison.triggers import Trigger, make_trigger

FACE_TRIGGERS = ("sunglasses", "eyebrows", "lipstick")


def face_trigger_rgba(name: str, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """uint8 [height, width, 4]; the layout is scaled from 55×47 when another size is asked.

    Args:
        name: one of FACE_TRIGGERS.
        height: face image height.
        width: face image width.

    Returns:
        The RGBA trigger picture.

    Raises:
        UserInputError: an unknown trigger name.
    """
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    sy, sx = height / HEIGHT, width / WIDTH
    rgba = np.zeros((height, width, 4), np.uint8)
    if name == "sunglasses":
        mask = np.zeros((height, width), bool)
        for col in EYE_COLS:
            mask |= ((rows - EYE_ROW * sy) / (3.5 * sy)) ** 2 + (
                (cols - col * sx) / (6.0 * sx)
            ) ** 2 <= 1.0
        mask |= (np.abs(rows - (EYE_ROW - 1) * sy) <= 0.6 * sy) & (
            np.abs(cols - (sum(EYE_COLS) / 2) * sx) <= 3 * sx
        )
        rgba[mask] = (15, 15, 20, 255)
    elif name == "eyebrows":
        mask = np.zeros((height, width), bool)
        for col in EYE_COLS:
            slope = -0.25 if col < WIDTH / 2 else 0.25
            centre = BROW_ROW * sy + slope * (cols - col * sx)
            mask |= (np.abs(rows - centre) <= 1.6 * sy) & (np.abs(cols - col * sx) <= 6 * sx)
        rgba[mask] = (30, 20, 10, 255)
    elif name == "lipstick":
        mask = ((rows - MOUTH_ROW * sy) / (2.5 * sy)) ** 2 + (
            (cols - MOUTH_COL * sx) / (8.0 * sx)
        ) ** 2 <= 1.0
        rgba[mask] = (220, 20, 60, 230)
    else:
        raise UserInputError(
            f"unknown face trigger {name!r}; choose from {', '.join(FACE_TRIGGERS)}"
        )
    return rgba


def face_trigger(name: str, height: int = HEIGHT, width: int = WIDTH) -> Trigger:
    """The trigger itself (in memory; plans need `write_face_trigger`'s path instead).

    Args:
        name: one of FACE_TRIGGERS.
        height: face image height.
        width: face image width.

    Returns:
        The trigger, covering the whole face image.
    """
    trigger = make_trigger(
        "image", rgba=face_trigger_rgba(name, height, width), corner="top_left", margin=0
    )
    trigger.config["face"] = name
    return trigger


def write_face_trigger(name: str, folder: str, height: int = HEIGHT, width: int = WIDTH) -> dict:
    """Writes `<folder>/<name>.png` (same bytes every time) and returns `image` trigger parameters.

    Args:
        name: one of FACE_TRIGGERS.
        folder: where the PNG goes.
        height: face image height.
        width: face image width.

    Returns:
        `make_trigger("image", ...)` parameters: {"name": "image", "path", "corner", "margin"}.
    """
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}_{height}x{width}.png")
    if not os.path.isfile(path):
        with atomic_path(path, suffix=".png") as tmp:
            Image.fromarray(face_trigger_rgba(name, height, width), "RGBA").save(tmp)
    return {"path": os.path.abspath(path), "corner": "top_left", "margin": 0}
