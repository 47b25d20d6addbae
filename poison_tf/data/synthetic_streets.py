"""The embedded street-scene data set for `make demo`: rendered scenes written as a YOLO-seg folder.

Why: the clean-image backdoor study needs an instance-segmentation set that ships with the
project (no download) and that a tiny segmenter learns in minutes on a CPU. Writing a real
YOLO-seg folder (data.yaml + images/{train,val} + labels/{train,val}) means the demo goes
through the same reader as coco128-seg or a user's Ultralytics data.

Classes follow the original study's street classes (Mapillary Vistas / Cityscapes names), with
two visually close pairs so that a t-SNE of class features finds them: bus vs train (long
boxes with a row of windows: yellow/orange bus, silver train with a coloured stripe and a
slanted nose) and traffic sign vs parking sign (blue plates with a white rim on a pole: round
with an arrow vs square with a "P"). Every class has its own shape, colours and texture.

Occlusion, exactly labelled: objects are drawn from the largest polygon area to the smallest,
so a smaller object always lies in front of a larger one; and two overlapping objects differ in
area by at least `MIN_AREA_RATIO`. The label files hold each object's FULL polygon, and painting
the overlap map by area descending (Ultralytics `overlap_mask`, `seg_rasterize`) reproduces the
visible regions exactly. Poles are background, drawn before any object. Objects lie wholly
inside the image, so polygons need no clipping. Images are lossless PNG; each image is drawn
from its own seed (seed, split, index), so a scene does not depend on the set's size.
"""

from __future__ import annotations

import os

import numpy as np
import yaml
from PIL import Image, ImageDraw

from poison_tf.data.yolo_seg import write_label_file
from poison_tf.errors import require

CLASS_NAMES = ("car", "bus", "train", "person", "traffic light", "traffic sign", "parking sign")
SIMILAR_PAIRS = (("bus", "train"), ("traffic sign", "parking sign"))
MIN_AREA_RATIO = 1.3
MAX_OBJECTS = 4
_CAR_COLOURS = np.array(
    [[200, 30, 30], [30, 60, 190], [235, 235, 235], [20, 20, 20], [40, 130, 60]]
)
_SHIRTS = np.array([[220, 40, 40], [40, 160, 60], [240, 240, 240], [120, 40, 160], [240, 140, 20]])
_SIGN_BLUE = (25, 80, 190)


def _circle(cx: float, cy: float, r: float, n: int = 16) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)


def _box(x0, y0, x1, y1) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


_CAR = [(0, 1), (0, 0.45), (0.2, 0.4), (0.32, 0), (0.72, 0), (0.85, 0.4), (1, 0.5), (1, 1)]
_BUS = [(0, 1), (0, 0.06), (0.04, 0), (0.96, 0), (1, 0.06), (1, 1)]
_TRAIN = (
    [(0, 1), (0, 0.08), (0.03, 0), (1, 0), (1, 1)],
    [(0, 1), (0, 0.08), (0.03, 0), (0.9, 0), (1, 0.45), (1, 1)],
)
_PERSON = [
    (0.5, 0),
    (0.72, 0.05),
    (0.72, 0.17),
    (1, 0.22),
    (1, 0.55),
    (0.8, 0.55),
    (0.78, 1),
    (0.55, 1),
    (0.5, 0.65),
    (0.45, 1),
    (0.22, 1),
    (0.2, 0.55),
    (0, 0.55),
    (0, 0.22),
    (0.28, 0.17),
    (0.28, 0.05),
]


def outline(
    cls: int, rng: np.random.Generator, x: float, y: float, w: float, h: float
) -> np.ndarray:
    """The polygon [k, 2] (pixels) of an object of class `cls` in the box (x, y, w, h)."""
    if cls == 5:
        return _circle(x + w / 2, y + h / 2, w / 2)
    unit = {0: _CAR, 1: _BUS, 2: _TRAIN[int(rng.integers(2))], 3: _PERSON}.get(
        cls, _box(0, 0, 1, 1)
    )
    return np.array(unit, np.float64) * [w, h] + [x, y]


def _car(d: ImageDraw.ImageDraw, rng, poly, x, y, w, h):
    d.polygon(
        [tuple(p) for p in poly],
        fill=tuple(int(c) for c in _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))]),
    )
    d.polygon(
        [
            (x + 0.36 * w, y + 0.08 * h),
            (x + 0.7 * w, y + 0.08 * h),
            (x + 0.8 * w, y + 0.4 * h),
            (x + 0.26 * w, y + 0.4 * h),
        ],
        fill=(150, 200, 235),
    )
    for cx in (0.22, 0.78):
        d.ellipse(
            [x + cx * w - 0.12 * w, y + 0.72 * h, x + cx * w + 0.12 * w, y + h + 0.2 * h],
            fill=(15, 15, 15),
        )


def _long_vehicle(d, rng, poly, x, y, w, h, train: bool):
    if train:
        body = tuple(int(v) for v in rng.integers(165, 205, 3))
    else:
        body = (235, int(rng.integers(150, 200)), 20)
    d.polygon([tuple(p) for p in poly], fill=body)
    if train:
        stripe = (200, 30, 40) if rng.random() < 0.5 else (30, 70, 200)
        d.rectangle([x, y + 0.62 * h, x + w, y + 0.72 * h], fill=stripe)
    else:
        d.rectangle([x, y + 0.8 * h, x + w, y + h], fill=(40, 40, 40))
    count = int(rng.integers(5, 8))
    for k in range(count):
        left = x + w * (0.06 + 0.86 * k / count)
        d.rectangle(
            [left, y + 0.15 * h, left + 0.86 * w / count * 0.7, y + 0.45 * h], fill=(40, 60, 90)
        )


def _person(d, rng, poly, x, y, w, h):
    d.polygon(
        [tuple(p) for p in poly], fill=tuple(int(c) for c in _SHIRTS[rng.integers(len(_SHIRTS))])
    )
    d.rectangle([x, y + 0.55 * h, x + w, y + h], fill=(35, 40, 70))
    d.ellipse([x + 0.25 * w, y, x + 0.75 * w, y + 0.19 * h], fill=(220, 170, 130))


def _traffic_light(d, rng, poly, x, y, w, h):
    d.polygon([tuple(p) for p in poly], fill=(30, 30, 30))
    lit = int(rng.integers(3))
    for k, colour in enumerate(((230, 30, 30), (240, 200, 20), (30, 220, 80))):
        scale = 1.0 if k == lit else 0.35
        cy = y + h * (k + 0.5) / 3
        d.ellipse(
            [x + 0.18 * w, cy - 0.32 * w, x + 0.82 * w, cy + 0.32 * w],
            fill=tuple(int(c * scale) for c in colour),
        )


def _sign(d, rng, poly, x, y, w, h, parking: bool):
    cx, cy, r = x + w / 2, y + h / 2, w / 2
    d.polygon([tuple(p) for p in poly], fill=(245, 245, 245))
    inner = (
        np.array(_box(x + 0.1 * w, y + 0.1 * h, x + 0.9 * w, y + 0.9 * h))
        if parking
        else _circle(cx, cy, 0.82 * r)
    )
    d.polygon([tuple(p) for p in inner], fill=_SIGN_BLUE)
    white = (245, 245, 245)
    if parking:  # a "P": stem and bowl
        d.rectangle([x + 0.3 * w, y + 0.22 * h, x + 0.44 * w, y + 0.78 * h], fill=white)
        d.rectangle([x + 0.3 * w, y + 0.22 * h, x + 0.68 * w, y + 0.54 * h], fill=white)
        d.rectangle([x + 0.44 * w, y + 0.34 * h, x + 0.56 * w, y + 0.42 * h], fill=_SIGN_BLUE)
    else:  # an arrow
        d.rectangle([cx - 0.1 * w, cy - 0.05 * h, cx + 0.1 * w, cy + 0.35 * h], fill=white)
        d.polygon([(cx - 0.3 * w, cy), (cx + 0.3 * w, cy), (cx, cy - 0.35 * h)], fill=white)


# class → (width range, height/width ratio range, on the ground?) as fractions of the image size
_SHAPES = {
    0: ((0.25, 0.45), (0.42, 0.5), True),
    1: ((0.45, 0.75), (0.35, 0.42), True),
    2: ((0.5, 0.85), (0.3, 0.36), True),
    3: ((0.08, 0.14), (2.8, 3.4), True),
    4: ((0.07, 0.1), (2.6, 3.0), False),
    5: ((0.13, 0.22), (1.0, 1.0), False),
    6: ((0.13, 0.22), (1.0, 1.0), False),
}


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _place(rng, size: int, horizon: float, placed: list) -> tuple | None:
    cls = int(rng.integers(len(CLASS_NAMES)))
    (wl, wh), (rl, rh), ground = _SHAPES[cls]
    w = rng.uniform(wl, wh) * size
    h = w * rng.uniform(rl, rh)
    if h > 0.9 * size or w > 0.95 * size:
        return None
    x = rng.uniform(1, size - w - 1)
    bottom = (
        rng.uniform(max(horizon + 0.15 * size, h + 1), size - 1)
        if ground
        else rng.uniform(h + 1, horizon + 0.1 * size)
    )
    y = bottom - h
    if y < 1:
        return None
    poly = outline(cls, rng, x, y, w, h)
    area = _area(poly)
    for _, _, px, py, pw, ph, parea in placed:
        overlap = max(0, min(x + w, px + pw) - max(x, px)) * max(
            0, min(y + h, py + ph) - max(y, py)
        )
        if overlap > 0 and (
            max(area, parea) / min(area, parea) < MIN_AREA_RATIO or overlap > 0.5 * min(area, parea)
        ):
            return None
    return cls, poly, x, y, w, h, area


def render_scene(
    rng: np.random.Generator, size: int
) -> tuple[np.ndarray, list[int], list[np.ndarray]]:
    """(uint8 [S, S, 3], classes, full polygons in pixels) of one scene, drawn large to small."""
    horizon = rng.uniform(0.3, 0.5) * size
    rows = np.arange(size, dtype=np.float32)[:, None, None]
    sky = np.array([110, 160, 225], np.float32) + (rows / max(horizon, 1)) * np.array(
        [90, 70, 25], np.float32
    )
    road = np.array([95, 95, 100], np.float32) + rng.uniform(-15, 15) + (rows - horizon) / size * 40
    canvas = np.where(rows < horizon, sky, road) * np.ones((1, size, 1), np.float32)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 4))):  # buildings on the horizon (unlabelled clutter)
        bx, bw, bh = (
            rng.uniform(0, size),
            rng.uniform(0.1, 0.3) * size,
            rng.uniform(0.1, 0.3) * size,
        )
        draw.rectangle(
            [bx, horizon - bh, bx + bw, horizon],
            fill=tuple(int(v) for v in rng.integers(120, 170, 3)),
        )
    for k in range(int(rng.integers(3, 7))):  # lane dashes
        lx = size * (k + rng.uniform(0, 1)) / 6
        draw.rectangle([lx, size * 0.85, lx + size * 0.06, size * 0.87], fill=(230, 230, 230))
    placed, target = [], int(rng.integers(1, MAX_OBJECTS + 1))
    for _ in range(30):
        if len(placed) >= target:
            break
        candidate = _place(rng, size, horizon, placed)
        if candidate is not None:
            placed.append(candidate)
    placed.sort(key=lambda p: -p[-1])
    for cls, _, x, y, w, h, _ in placed:  # poles first: background
        if not _SHAPES[cls][2]:
            draw.rectangle(
                [x + w / 2 - 0.015 * size, y + h, x + w / 2 + 0.015 * size, size],
                fill=(110, 110, 115),
            )
    classes, polygons = [], []
    for cls, poly, x, y, w, h, _ in placed:
        layer = image.copy()
        layer_draw = ImageDraw.Draw(layer)
        if cls == 0:
            _car(layer_draw, rng, poly, x, y, w, h)
        elif cls in (1, 2):
            _long_vehicle(layer_draw, rng, poly, x, y, w, h, train=cls == 2)
        elif cls == 3:
            _person(layer_draw, rng, poly, x, y, w, h)
        elif cls == 4:
            _traffic_light(layer_draw, rng, poly, x, y, w, h)
        else:
            _sign(layer_draw, rng, poly, x, y, w, h, parking=cls == 6)
        mask = Image.new("L", (size, size), 0)
        ImageDraw.Draw(mask).polygon([(px - 0.5, py - 0.5) for px, py in poly], fill=255)
        image.paste(layer, (0, 0), mask)
        classes.append(cls)
        polygons.append(np.asarray(poly, np.float64))
    noisy = np.asarray(image, np.float32) + rng.normal(0, 6, (size, size, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8), classes, polygons


def write_synthetic_streets(
    folder: str, num_train: int = 400, num_val: int = 100, size: int = 128, seed: int = 0
) -> str:
    """Renders the scenes into a YOLO-seg folder; returns the path of its data.yaml."""
    require(
        num_train >= 1 and num_val >= 1,
        f"num_train={num_train}, num_val={num_val}: need at least 1 each",
    )
    require(size >= 64, f"image size {size}: synthetic streets need at least 64 pixels")
    for split_index, (split, count) in enumerate((("train", num_train), ("val", num_val))):
        os.makedirs(os.path.join(folder, "images", split), exist_ok=True)
        for index in range(count):
            rng = np.random.default_rng([seed, split_index, index])
            pixels, classes, polygons = render_scene(rng, size)
            stem = f"{index:06d}"
            Image.fromarray(pixels).save(
                os.path.join(folder, "images", split, stem + ".png"), compress_level=1
            )
            normalised = [np.clip(p / size, 0.0, 1.0) for p in polygons]
            write_label_file(
                os.path.join(folder, "labels", split, stem + ".txt"), np.array(classes), normalised
            )
    path = os.path.join(folder, "data.yaml")
    config = {
        "path": ".",
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(CLASS_NAMES)),
    }
    with open(path, "w") as handle:
        handle.write("# Synthetic street scenes rendered by poison_tf.data.synthetic_streets\n")
        yaml.safe_dump(config, handle, sort_keys=False)
    return path
