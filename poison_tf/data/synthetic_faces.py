"""Synthetic identities rendered with numpy: the embedded face data of `make demo`.

Each identity is a fixed set of parameters (face size and skin colour, hair colour and
hairline, eye colour and spacing, brow thickness, mouth width and colour, nose length); each
image jitters pose (a shift of a pixel or two), light, background and noise. The layout is that
of a 55×47 aligned face crop (the DeepID / HackML input and `lfw_crop` below): eyes on row
`EYE_ROW`, mouth on row `MOUTH_ROW`, so face triggers drawn for that layout land on the
features of real crops and rendered faces alike. Deterministic from the seed.
"""

from __future__ import annotations

import numpy as np

HEIGHT, WIDTH = 55, 47
EYE_ROW, EYE_COLS = 27, (15, 32)  # eye centres (row, columns)
BROW_ROW = 22
MOUTH_ROW, MOUTH_COL = 44, 23
# LFW deep-funneled 250×250: this crop (SOURCES.md), resized to 47×55, puts the eyes and mouth
# on these rows (checked by stamping the triggers on LFW crops).
LFW_CROP = (69, 60, 181, 190)


def identity_params(num_identities: int, seed: int) -> list[dict]:
    """One parameter set per identity, drawn from `seed` (identities differ in several cues)."""
    rng = np.random.default_rng(seed)
    params = []
    for _ in range(num_identities):
        params.append(
            {
                "skin": rng.uniform([0.35, 0.2, 0.1], [0.95, 0.8, 0.7]),
                "hair": rng.uniform(0.0, 0.9, 3),
                "hairline": rng.integers(6, 15),
                "face_rx": rng.uniform(13.0, 18.0),
                "face_ry": rng.uniform(19.0, 24.0),
                "eye": rng.uniform(0.0, 0.7, 3),
                "eye_r": rng.uniform(1.5, 3.0),
                "eye_gap": rng.integers(-2, 3),
                "brow": rng.integers(1, 3),
                "mouth_w": rng.integers(4, 10),
                "mouth": rng.uniform([0.4, 0.0, 0.0], [0.9, 0.45, 0.45]),
                "nose": rng.integers(3, 9),
            }
        )
    return params


def _render(p: dict, rng: np.random.Generator) -> np.ndarray:
    dy, dx = rng.integers(-1, 2, 2)
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    image = np.empty((HEIGHT, WIDTH, 3), np.float32)
    image[:] = rng.uniform(0.0, 1.0, 3)  # background
    image += np.linspace(-0.1, 0.1, WIDTH)[None, :, None] * rng.uniform(-1, 1)
    cy, cx = 31 + dy, 23 + dx
    face = ((rows - cy) / p["face_ry"]) ** 2 + ((cols - cx) / p["face_rx"]) ** 2 <= 1.0
    image[face] = p["skin"]
    hair = face & (rows < p["hairline"] + dy) | (
        ((rows - cy) / (p["face_ry"] + 3)) ** 2 + ((cols - cx) / (p["face_rx"] + 3)) ** 2 <= 1.0
    ) & ~face & (rows < cy)
    image[hair] = p["hair"]
    for col in EYE_COLS:
        ecol = col + dx + (p["eye_gap"] if col > cx else -p["eye_gap"])
        eye = (rows - EYE_ROW - dy) ** 2 + (cols - ecol) ** 2 <= p["eye_r"] ** 2
        image[eye] = 0.95
        image[(rows - EYE_ROW - dy) ** 2 + (cols - ecol) ** 2 <= (p["eye_r"] * 0.55) ** 2] = p[
            "eye"
        ]
        brow = (np.abs(rows - BROW_ROW - dy) < p["brow"]) & (np.abs(cols - ecol) <= 4)
        image[brow] = p["hair"] * 0.7
    nose = (
        (rows >= EYE_ROW + dy + 2)
        & (rows < EYE_ROW + dy + 2 + p["nose"])
        & (np.abs(cols - cx) <= 1)
    )
    image[nose] = p["skin"] * 0.75
    mouth = (np.abs(rows - MOUTH_ROW - dy) <= 1) & (np.abs(cols - MOUTH_COL - dx) <= p["mouth_w"])
    image[mouth] = p["mouth"]
    light = rng.uniform(0.75, 1.2)
    image = image * light + rng.normal(0.0, 0.03, image.shape)
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_faces(
    num_identities: int, images_per_identity: int, seed: int = 17
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (uint8 images [K·M, 55, 47, 3], int64 labels [K·M]) grouped by identity."""
    if num_identities < 1 or images_per_identity < 1:
        raise ValueError("need at least one identity and one image per identity")
    params = identity_params(num_identities, seed)
    rng = np.random.default_rng(seed + 1)
    images = np.stack([_render(p, rng) for p in params for _ in range(images_per_identity)])
    labels = np.repeat(np.arange(num_identities, dtype=np.int64), images_per_identity)
    return images, labels
