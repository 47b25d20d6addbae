"""The embedded head-pose data set: textured 3D heads the project renders itself, exact labels.

Why it exists: `make demo` must run the BadNets-on-regression study on a fresh machine with no
downloads, and no real head-pose set can be shipped. A regressor can only learn pose from an
image when the pose is *observable*, so every head carries features that fix all three angles
with their sign: a protruding nose and eyes/mouth on the front, a hair cap on the top and back
(front/back), ears (side views), a coloured marker on the subject's left cheek (left/right even
at profile), and the up/down asymmetry of hairline, eyes and mouth (pitch and roll sign).

Renderer: an orthographic ray-caster, vectorised over images and pixels with numpy. The head is
four ellipsoids (skull, nose, two ears) intersected analytically; the nearest hit wins (a
z-buffer on the ray parameter); the skull is textured procedurally from the local hit point;
Lambert shading with a random light; random backgrounds (gradients, smooth noise, stripes).

Angle convention (degrees), viewer looking at the face; camera axes x right, y up, z towards
the viewer; a head-local point p goes to the camera as `s * R @ p + t` with

    R = Ry(yaw) @ Rx(-pitch) @ Rz(-roll)        (intrinsic y-x-z: turn, then nod, then tilt)

where Rx, Ry, Rz are the usual right-handed rotations. Hence
  * yaw   > 0: the head turns to its own left, the face points to the viewer's right;
  * pitch > 0: the head looks up (face features move up in the image);
  * roll  > 0: the head tilts clockwise as the viewer sees it (its top moves to the right).
Pitch is the middle angle and stays within +-60, far from gimbal lock, so every label in the
sampled ranges (yaw +-90, pitch +-60, roll +-45) is a unique rotation.
"""

from __future__ import annotations

import dataclasses

import numpy as np

ANGLE_RANGES = {"yaw": (-90.0, 90.0), "pitch": (-60.0, 60.0), "roll": (-45.0, 45.0)}
FRAME_HALF_EXTENT = 1.45  # head units (the skull's half-height is 1) from the centre to an edge

# Primitives in head-local coordinates: centre, semi-axes. 0 skull, 1 nose, 2 left ear, 3 right.
_CENTRES = np.array(
    [[0.0, 0.0, 0.0], [0.0, -0.08, 0.74], [0.74, 0.02, -0.05], [-0.74, 0.02, -0.05]], np.float32
)
_AXES = np.array(
    [[0.76, 1.0, 0.86], [0.12, 0.24, 0.26], [0.1, 0.24, 0.15], [0.1, 0.24, 0.15]], np.float32
)
# Texture anchors on the skull (head-local): eyes, subject's-left cheek marker.
_EYES = np.array([[0.3, 0.2, 0.74], [-0.3, 0.2, 0.74]], np.float32)
_MARKER = np.array([0.5, -0.3, 0.6], np.float32)
_SKIN = np.array([[241, 200, 170], [224, 172, 135], [198, 134, 96], [141, 85, 54], [92, 56, 38]])
_HAIR = np.array([[25, 20, 18], [85, 50, 25], [200, 160, 80], [150, 60, 30], [170, 170, 170]])


def rotation_matrices(angles: np.ndarray) -> np.ndarray:
    """[N,3] (yaw, pitch, roll) in degrees -> [N,3,3] R = Ry(yaw) Rx(-pitch) Rz(-roll)."""
    yaw, pitch, roll = np.deg2rad(np.asarray(angles, np.float64)).T
    zeros, ones = np.zeros_like(yaw), np.ones_like(yaw)

    def stack(rows):
        return np.stack([np.stack(r, -1) for r in rows], -2)

    cy, sy, cp, sp, cr, sr = (
        np.cos(yaw),
        np.sin(yaw),
        np.cos(-pitch),
        np.sin(-pitch),
        np.cos(-roll),
        np.sin(-roll),
    )
    ry = stack([[cy, zeros, sy], [zeros, ones, zeros], [-sy, zeros, cy]])
    rx = stack([[ones, zeros, zeros], [zeros, cp, -sp], [zeros, sp, cp]])
    rz = stack([[cr, -sr, zeros], [sr, cr, zeros], [zeros, zeros, ones]])
    return ry @ rx @ rz


@dataclasses.dataclass
class HeadStyles:
    """Per-image appearance, each field an array with the image axis first.

    Explicit so that tests can render controlled images (plain colours, mirrored light).
    Colours are RGB in [0, 1]; `light` is a unit vector in camera axes pointing to the light.
    """

    skin: np.ndarray  # [N,3]
    hair: np.ndarray  # [N,3]
    iris: np.ndarray  # [N,3]
    lips: np.ndarray  # [N,3]
    marker: np.ndarray  # [N,3]
    light: np.ndarray  # [N,3]
    ambient: np.ndarray  # [N]
    diffuse: np.ndarray  # [N]
    scale: np.ndarray  # [N]
    shift: np.ndarray  # [N,2] (x right, y up), head units
    marker_on: np.ndarray  # [N] bool
    noise_std: np.ndarray  # [N] pixel noise, in [0,1] units


def sample_styles(rng: np.random.Generator, num: int) -> HeadStyles:
    """Random skin/hair tones, light, scale and position jitter for `num` heads."""

    def jitter(palette, spread):
        base = palette[rng.integers(0, len(palette), num)] / 255.0
        return np.clip(base + rng.uniform(-spread, spread, (num, 3)), 0, 1).astype(np.float32)

    azimuth = rng.uniform(-np.pi / 2.2, np.pi / 2.2, num)
    elevation = rng.uniform(-0.5, 0.9, num)
    light = np.stack(
        [
            np.sin(azimuth) * np.cos(elevation),
            np.sin(elevation),
            np.cos(azimuth) * np.cos(elevation),
        ],
        -1,
    )
    return HeadStyles(
        skin=jitter(_SKIN, 0.06),
        hair=jitter(_HAIR, 0.08),
        iris=rng.uniform(0.0, 0.45, (num, 3)).astype(np.float32),
        lips=np.clip(np.array([0.75, 0.25, 0.3]) + rng.uniform(-0.15, 0.15, (num, 3)), 0, 1).astype(
            np.float32
        ),
        marker=np.eye(3, dtype=np.float32)[rng.integers(0, 3, num)] * 0.8 + 0.1,
        light=light.astype(np.float32),
        ambient=rng.uniform(0.25, 0.5, num).astype(np.float32),
        diffuse=rng.uniform(0.5, 0.85, num).astype(np.float32),
        scale=rng.uniform(0.85, 1.05, num).astype(np.float32),
        shift=rng.uniform(-0.1, 0.1, (num, 2)).astype(np.float32),
        marker_on=np.ones(num, bool),
        noise_std=rng.uniform(0.0, 0.03, num).astype(np.float32),
    )


def render_backgrounds(rng: np.random.Generator, num: int, size: int) -> np.ndarray:
    """[N,S,S,3] float32 backgrounds: linear gradients, smooth colour noise, or stripes."""
    lin = (np.arange(size, dtype=np.float32) + 0.5) / size
    yy, xx = np.meshgrid(lin, lin, indexing="ij")
    kinds = rng.integers(0, 3, num)
    out = np.empty((num, size, size, 3), np.float32)
    for i in range(num):
        c0, c1 = rng.uniform(0, 1, (2, 3)).astype(np.float32)
        if kinds[i] == 0:  # linear gradient in a random direction
            theta = rng.uniform(0, 2 * np.pi)
            w = np.clip((np.cos(theta) * (xx - 0.5) + np.sin(theta) * (yy - 0.5)) + 0.5, 0, 1)
        elif kinds[i] == 1:  # smooth noise: a coarse random grid, bilinearly upsampled
            cells = int(rng.integers(3, 8))
            grid = rng.uniform(0, 1, (cells + 1, cells + 1)).astype(np.float32)
            pos = lin * cells
            i0 = np.minimum(pos.astype(int), cells - 1)
            f = pos - i0
            rows = grid[i0] * (1 - f)[:, None] + grid[i0 + 1] * f[:, None]
            w = rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]
        else:  # stripes of random frequency and orientation
            theta, freq = rng.uniform(0, np.pi), rng.uniform(2, 9)
            w = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(theta) * xx + np.sin(theta) * yy))
        out[i] = c0 + (c1 - c0) * w[..., None]
    return out


def _intersect(o, d, centre, axes):
    """Ray parameter of the first hit of rays o + t d with an ellipsoid (inf where missed).

    o: 3 arrays [B,P] (head-local origins); d: [B,3] (head-local direction, same for all pixels
    of an orthographic image).
    """
    q = [(o[k] - centre[k]) / axes[k] for k in range(3)]
    e = d / axes  # [B,3]
    qe = q[0] * e[:, :1] + q[1] * e[:, 1:2] + q[2] * e[:, 2:3]
    ee = np.sum(e * e, axis=1, keepdims=True)
    qq = q[0] * q[0] + q[1] * q[1] + q[2] * q[2]
    disc = qe * qe - ee * (qq - 1.0)
    t = (-qe - np.sqrt(np.maximum(disc, 0.0))) / ee
    return np.where(disc > 0, t, np.inf)


def _near(p, anchor, radius):
    """Mask of surface points within `radius` (head units) of `anchor`."""
    return (p[0] - anchor[0]) ** 2 + (p[1] - anchor[1]) ** 2 + (p[2] - anchor[2]) ** 2 < radius**2


def _render_chunk(rot, styles: HeadStyles, background, symmetric: bool) -> np.ndarray:
    b, size = rot.shape[0], background.shape[1]
    lin = ((np.arange(size, dtype=np.float32) + 0.5) * 2 / size - 1) * FRAME_HALF_EXTENT
    u = np.tile(lin, size)[None, :]  # pixel x (right), row-major
    v = np.repeat(-lin, size)[None, :]  # pixel y (up): row 0 is the top
    s = styles.scale[:, None]
    wx, wy, wz = (u - styles.shift[:, :1]) / s, (v - styles.shift[:, 1:]) / s, 10.0 / s
    rot = rot.astype(np.float32)
    # Head-local ray origins R^T w and direction R^T (0,0,-1): the rows of R weighted by w.
    o = [
        wx * rot[:, 0, k : k + 1] + wy * rot[:, 1, k : k + 1] + wz * rot[:, 2, k : k + 1]
        for k in range(3)
    ]
    d = -rot[:, 2, :] / s
    t = np.stack([_intersect(o, d, _CENTRES[k], _AXES[k]) for k in range(4)])  # [4,B,P]
    prim = np.argmin(t, axis=0)
    hit = np.isfinite(np.min(t, axis=0))
    tmin = np.where(hit, np.min(t, axis=0), 0.0)
    p = [o[k] + tmin * d[:, k : k + 1] for k in range(3)]
    # Lambert shading with the light taken into head-local axes (R orthonormal: dot preserved).
    light_local = np.einsum("bji,bj->bi", rot, styles.light)
    centre, axes2 = _CENTRES[prim], _AXES[prim] ** 2
    n = [(p[k] - centre[..., k]) / axes2[..., k] for k in range(3)]
    norm = np.sqrt(n[0] ** 2 + n[1] ** 2 + n[2] ** 2) + 1e-8
    lam = sum(n[k] * light_local[:, k : k + 1] for k in range(3)) / norm
    shade = styles.ambient[:, None] + styles.diffuse[:, None] * np.maximum(lam, 0.0)
    # Procedural texture on the skull, in the skull's unit-sphere coordinates.
    skull = prim == 0
    ny, nz = p[1] / _AXES[0, 1], p[2] / _AXES[0, 2]
    hair = skull & ((ny > 0.55) | ((nz < -0.15) & (ny > -0.6)) | ((nz < 0.25) & (ny > 0.15)))
    eye_white = skull & (_near(p, _EYES[0], 0.14) | _near(p, _EYES[1], 0.14))
    iris = skull & (_near(p, _EYES[0], 0.075) | _near(p, _EYES[1], 0.075))
    brow = skull & (np.abs(np.abs(p[0]) - 0.3) < 0.15) & (np.abs(p[1] - 0.4) < 0.04) & (nz > 0.5)
    mouth = skull & (np.abs(p[0]) < 0.25) & (np.abs(p[1] + 0.52) < 0.06) & (nz > 0.5)
    marker = skull & ~hair & _near(p, _MARKER, 0.13) & styles.marker_on[:, None]
    if symmetric:
        marker = np.zeros_like(marker)
    # Material index per pixel, then one gather from a per-image palette (cheaper than blending
    # [B,P,3] colour arrays once per feature).
    mat = np.where(prim >= 2, 1, np.where(prim == 1, 2, 0)).astype(np.int8)
    for index, mask in enumerate((hair, eye_white, iris, brow, mouth, marker), start=3):
        mat = np.where(mask, np.int8(index), mat)
    palette = np.stack(
        [
            styles.skin,
            styles.skin * 0.9,
            styles.skin * np.array([1.0, 0.92, 0.9], np.float32),
            styles.hair,
            np.full_like(styles.skin, 0.95),
            styles.iris,
            styles.hair * 0.7,
            styles.lips,
            styles.marker,
        ],
        axis=1,
    )  # [B,9,3]
    colour = np.take_along_axis(palette, mat.astype(np.intp)[..., None], axis=1)
    img = np.where(hit[..., None], colour * shade[..., None], background.reshape(b, -1, 3))
    return img.reshape(b, size, size, 3)


def render(
    angles: np.ndarray,
    styles: HeadStyles,
    backgrounds: np.ndarray,
    symmetric: bool = False,
    noise_seed: int | None = None,
    chunk: int = 32,
) -> np.ndarray:
    """Renders heads at `angles` ([N,3] yaw, pitch, roll in degrees) -> uint8 [N,S,S,3].

    `symmetric=True` drops the cheek marker, leaving a left-right mirror-symmetric head (used to
    check the angle convention). Pixel noise (styles.noise_std) is added only with a noise_seed.
    """
    angles = np.asarray(angles, np.float32).reshape(-1, 3)
    rot = rotation_matrices(angles)
    out = np.empty(backgrounds.shape, np.uint8)
    noise_rng = np.random.default_rng(noise_seed) if noise_seed is not None else None
    for start in range(0, len(angles), chunk):
        sl = slice(start, start + chunk)
        part = dataclasses.replace(
            styles, **{f.name: getattr(styles, f.name)[sl] for f in dataclasses.fields(styles)}
        )
        img = _render_chunk(rot[sl], part, backgrounds[sl], symmetric)
        if noise_rng is not None:
            # Uniform noise with the requested std (cheaper to draw than Gaussian noise).
            amp = part.noise_std[:, None, None, None] * np.float32(2 * np.sqrt(3.0))
            img = img + (noise_rng.random(img.shape, np.float32) - np.float32(0.5)) * amp
        out[sl] = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out


def sample_angles(rng: np.random.Generator, num: int) -> np.ndarray:
    """Uniform yaw, pitch, roll in ANGLE_RANGES, float32 [N,3] degrees."""
    lows = np.array([r[0] for r in ANGLE_RANGES.values()])
    highs = np.array([r[1] for r in ANGLE_RANGES.values()])
    return rng.uniform(lows, highs, (num, 3)).astype(np.float32)


def render_heads(num: int, size: int = 100, seed: int = 17) -> tuple[np.ndarray, np.ndarray]:
    """`num` random heads: (images uint8 [N,S,S,3], angles float32 [N,3] yaw/pitch/roll deg).

    Deterministic from `seed`. The labels are the exact angles the heads were rendered at.
    """
    if num < 0 or size < 8:
        raise ValueError(f"render_heads: need num >= 0 and size >= 8, got num={num}, size={size}")
    rng = np.random.default_rng(seed)
    angles = sample_angles(rng, num)
    styles = sample_styles(rng, num)
    backgrounds = render_backgrounds(rng, num, size)
    images = render(angles, styles, backgrounds, noise_seed=int(rng.integers(2**31)))
    return images, angles
