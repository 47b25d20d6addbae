"""Letterbox one `SegSample` to S x S and rasterise its instances into an overlap map at S/4.

Why a module of its own: this is where label geometry is decided, and the model's mask loss,
the metrics and the poisoning all rely on it being exact. Choices (Ultralytics 8.3 where it has
one, `data/augment.py LetterBox`, `data/utils.py polygons2masks_overlap`):

- Letterbox: ratio r = S / max(h, w) (up- or down-scaling), resized size round(w r) x round(h r),
  centred with integer padding left = round(dw - 0.1), top = round(dh - 0.1), padding value 114.
  A normalised point (x, y) goes to (x w r + left, y h r + top); `letterbox` = [r, left, top],
  so original coordinates are (x' - left) / r. The image is resized with PIL bilinear.
- Pixel convention: pixel (i, j) covers [j, j+1] x [i, i+1]; boxes are xyxy in those units.
- Rasterisation: each polygon is filled at input resolution S with PIL ImageDraw, sampling at
  pixel centres (a pixel is in when its centre is inside or on the edge), then reduced to S/4
  by the mean of each 4 x 4 block with threshold >= 0.5 (area downsampling). So an
  axis-aligned square with corners on multiples of 4 maps to exactly (side / 4)^2 pixels.
  (Ultralytics resizes the S-resolution fill with cv2 bilinear; area + threshold is the
  resolution-exact version of the same idea.) Full-resolution masks (COCO RLE) are resized to
  the letterboxed size with bilinear + threshold 0.5 first, then reduced the same way.
- Overlap map: instances sorted by their S/4 area DESCENDING (stable), painted in that order,
  so a small object inside a large one keeps its own index; value i+1 = i-th sorted instance.
  At most `max_instances` (<= 255, the map is uint8) are kept: the smallest are dropped.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from poison_tf.data.yolo_seg import SegSample

PAD_VALUE = 114
MASK_STRIDE = 4
MAX_MAP_INSTANCES = 255


@dataclasses.dataclass
class Letterbox:
    ratio: float
    new_width: int
    new_height: int
    left: int
    top: int

    def as_list(self) -> list[float]:
        return [float(self.ratio), float(self.left), float(self.top)]


@dataclasses.dataclass
class EncodedSample:
    """What one TFRecord example holds, as numpy arrays; instances sorted by area descending."""

    image: np.ndarray  # uint8 [S, S, 3]
    mask: np.ndarray  # uint8 [S/4, S/4], 0 = background, i + 1 = instance i
    classes: np.ndarray  # int64 [n]
    boxes: np.ndarray  # float32 [n, 4] xyxy input pixels
    instance_ids: np.ndarray  # int64 [n]
    lines: np.ndarray  # int64 [n] label-file line (COCO: annotation id)
    letterbox: Letterbox
    dropped: int  # instances beyond max_instances


def letterbox_geometry(height: int, width: int, size: int) -> Letterbox:
    """Ultralytics LetterBox(new_shape=(S, S), auto=False, scaleup=True, center=True)."""
    ratio = size / max(height, width)
    new_width, new_height = int(round(width * ratio)), int(round(height * ratio))
    dw, dh = (size - new_width) / 2, (size - new_height) / 2
    return Letterbox(ratio, new_width, new_height, int(round(dw - 0.1)), int(round(dh - 0.1)))


def letterbox_image(image: Image.Image, size: int, box: Letterbox) -> np.ndarray:
    """The RGB image resized and padded with 114 to uint8 [S, S, 3]."""
    image = image.convert("RGB")
    if image.size != (box.new_width, box.new_height):
        image = image.resize((box.new_width, box.new_height), Image.BILINEAR)
    canvas = Image.new("RGB", (size, size), (PAD_VALUE,) * 3)
    canvas.paste(image, (box.left, box.top))
    return np.asarray(canvas, np.uint8)


def to_input_pixels(polygon: np.ndarray, height: int, width: int, box: Letterbox) -> np.ndarray:
    """Normalised (x, y) points → letterboxed input pixels."""
    scale = np.array([width * box.ratio, height * box.ratio], np.float64)
    return polygon.astype(np.float64) * scale + np.array([box.left, box.top], np.float64)


def fill_polygon(points: np.ndarray, size: int) -> np.ndarray:
    """uint8 [S, S] 0/1: pixels whose centre lies inside (or on) the polygon in input pixels."""
    canvas = Image.new("L", (size, size), 0)
    shifted = [(float(x) - 0.5, float(y) - 0.5) for x, y in points]
    ImageDraw.Draw(canvas).polygon(shifted, fill=1)
    return np.asarray(canvas, np.uint8)


def downsample(fill: np.ndarray, stride: int = MASK_STRIDE) -> np.ndarray:
    """bool [H/stride, W/stride]: the mean of each stride x stride block is >= 0.5."""
    rows, cols = fill.shape[0] // stride, fill.shape[1] // stride
    blocks = fill[: rows * stride, : cols * stride].reshape(rows, stride, cols, stride)
    return blocks.sum(axis=(1, 3), dtype=np.uint16) * 2 >= stride * stride


def rasterize_polygon(points: np.ndarray, size: int, stride: int = MASK_STRIDE) -> np.ndarray:
    """bool [S/stride, S/stride]: `downsample(fill_polygon(points, size))`, computed on the
    stride-aligned crop around the polygon only (same pixels, a fraction of the work)."""
    side = size // stride
    low = np.clip(np.floor(points.min(axis=0) / stride).astype(int) - 1, 0, side)
    high = np.clip(np.ceil(points.max(axis=0) / stride).astype(int) + 1, 0, side)
    out = np.zeros((side, side), bool)
    (x0, y0), (x1, y1) = low, high
    if x1 <= x0 or y1 <= y0:
        return out
    canvas = Image.new("L", (int(x1 - x0) * stride, int(y1 - y0) * stride), 0)
    offset = np.array([x0, y0], np.float64) * stride + 0.5
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in points - offset], fill=1)
    out[y0:y1, x0:x1] = downsample(np.asarray(canvas, np.uint8), stride)
    return out


def letterbox_mask(mask: np.ndarray, size: int, box: Letterbox) -> np.ndarray:
    """A full-resolution bool mask [h, w] → uint8 [S, S] 0/1 in letterboxed input pixels."""
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    if image.size != (box.new_width, box.new_height):
        image = image.resize((box.new_width, box.new_height), Image.BILINEAR)
    canvas = np.zeros((size, size), np.uint8)
    resized = np.asarray(image) >= 128
    canvas[box.top : box.top + box.new_height, box.left : box.left + box.new_width] = resized
    return canvas


def mask_extents(mask: np.ndarray) -> np.ndarray:
    """xyxy pixel-area extents [x1, y1, x2, y2] of a bool mask (zeros when empty)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return np.zeros(4, np.float64)
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float64)


def overlap_map(instance_masks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 map, order): paint by area descending (stable) so small objects win."""
    areas = np.array([int(m.sum()) for m in instance_masks], np.int64)
    order = np.argsort(-areas, kind="stable")
    side = instance_masks[0].shape[0] if instance_masks else 0
    painted = np.zeros((side, side), np.uint8)
    for rank, index in enumerate(order):
        painted[instance_masks[index]] = rank + 1
    return painted, order


def encode_sample(
    sample: SegSample,
    image: Image.Image,
    size: int,
    first_instance_id: int,
    max_instances: int = 100,
) -> EncodedSample:
    """Letterboxes `image` (already decoded) and rasterises the sample's instances."""
    image = ImageOps.exif_transpose(image)
    box = letterbox_geometry(sample.height, sample.width, size)
    pixels = letterbox_image(image, size, box)
    small, boxes = [], []
    for index, polygon in enumerate(sample.polygons):
        full_mask = sample.masks[index] if sample.masks is not None else None
        if full_mask is not None:
            small.append(downsample(letterbox_mask(full_mask, size, box)))
            x1, y1, x2, y2 = mask_extents(full_mask)
            boxes.append(
                [
                    x1 * box.ratio + box.left,
                    y1 * box.ratio + box.top,
                    x2 * box.ratio + box.left,
                    y2 * box.ratio + box.top,
                ]
            )
            continue
        points = to_input_pixels(polygon, sample.height, sample.width, box)
        small.append(rasterize_polygon(points, size))
        boxes.append([*points.min(axis=0), *points.max(axis=0)])
    side = size // MASK_STRIDE
    if not small:
        return EncodedSample(
            pixels,
            np.zeros((side, side), np.uint8),
            np.zeros(0, np.int64),
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            box,
            0,
        )
    keep = min(max_instances, MAX_MAP_INSTANCES)
    _, order = overlap_map(small)
    order = order[:keep]
    painted, _ = overlap_map([small[i] for i in order])  # already sorted: order is identity
    ids = first_instance_id + np.arange(len(small), dtype=np.int64)
    return EncodedSample(
        image=pixels,
        mask=painted,
        classes=np.asarray(sample.classes, np.int64)[order],
        boxes=np.clip(np.asarray(boxes, np.float64)[order], 0, size).astype(np.float32),
        instance_ids=ids[order],
        lines=np.asarray(sample.lines, np.int64)[order],
        letterbox=box,
        dropped=len(small) - len(order),
    )
