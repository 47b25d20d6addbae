"""COCO instances JSON (polygons and RLE) + an image folder → the same `SegSample`s as YOLO-seg.

Why: the segmenter must also train on data annotated in COCO format (the study's Mapillary /
Cityscapes exports are COCO JSON), without a conversion step that loses RLE masks.

Choices:
- Class indices are the `categories` sorted by id, mapped to 0..n-1; names come from there.
- Images are taken in `images` order sorted by id; `stem` is the file name's stem.
- A single-part polygon stays a polygon (normalised by the image's width / height). A
  multi-part polygon and an RLE (compressed `counts` string or uncompressed `counts` list) are
  decoded with pycocotools to a full-resolution bool mask stored in `SegSample.masks` (so they
  rasterise exactly); their `polygons` entry is the largest part, or empty [0, 2] for RLE.
- `iscrowd = 1` annotations are skipped and counted (Ultralytics' COCO converter skips them).
  Empty RLE masks are skipped and counted too.
- `lines` holds each annotation's `id`, so messages and poison plans can name it.
- Polygon points may lie up to 1 px outside the image (COCO's edge convention) and are clipped;
  further out is an error. An image file that does not exist is an error; one that cannot be
  decoded is skipped, counted and named (as for YOLO folders).
"""

from __future__ import annotations

import os

import numpy as np
from absl import logging
from pycocotools import mask as mask_utils

from poison_tf.data.yolo_seg import SegSample, probe_image, warn_skipped
from poison_tf.errors import UserInputError, require
from poison_tf.io.safe_read import load_json

EDGE_TOLERANCE_PX = 1.0


def _load_json(path: str) -> dict:
    require(os.path.lexists(path), f"{path}: COCO JSON not found")
    data = load_json(path, "COCO JSON")  # a directory, bad UTF-8, deep nesting: one message
    require(isinstance(data, dict), f"{path}: not a COCO instances object")
    missing = [key for key in ("images", "annotations", "categories") if key not in data]
    require(not missing, f"{path}: missing key(s) {missing}")
    return data


def _need(entry: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [key for key in keys if key not in entry]
    require(not missing, f"{where}: missing key(s) {missing}")


def _polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _parts(segmentation: list, height: int, width: int, where: str) -> list[np.ndarray]:
    parts = []
    for part in segmentation:
        coords = np.asarray(part, np.float64).reshape(-1)
        require(
            len(coords) % 2 == 0,
            f"{where}: polygon with an odd number of coordinates ({len(coords)})",
        )
        require(
            len(coords) >= 6, f"{where}: a polygon needs at least 3 points, got {len(coords) // 2}"
        )
        points = coords.reshape(-1, 2)
        limit = np.array([width, height], np.float64)
        if (points < -EDGE_TOLERANCE_PX).any() or (points > limit + EDGE_TOLERANCE_PX).any():
            raise UserInputError(f"{where}: polygon point outside the {width}x{height} image")
        parts.append(np.clip(points, 0, limit))
    require(parts, f"{where}: empty segmentation")
    return parts


def _rle_mask(segmentation: dict, height: int, width: int, where: str) -> np.ndarray:
    _need(segmentation, ("size", "counts"), where)
    require(
        list(segmentation["size"]) == [height, width],
        f"{where}: RLE size {segmentation['size']} differs from the image's [{height}, {width}]",
    )
    counts = segmentation["counts"]
    if isinstance(counts, list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = {
            "size": [height, width],
            "counts": counts.encode() if isinstance(counts, str) else counts,
        }
    try:
        return mask_utils.decode(rle).astype(bool)
    except (TypeError, ValueError) as error:
        raise UserInputError(f"{where}: RLE cannot be decoded ({error})") from None


def _instance(
    annotation: dict, height: int, width: int, where: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """(normalised polygon [k, 2] or [0, 2], full-resolution mask or None)."""
    segmentation = annotation["segmentation"]
    scale = np.array([width, height], np.float64)
    if isinstance(segmentation, dict):
        return np.zeros((0, 2), np.float32), _rle_mask(segmentation, height, width, where)
    require(
        isinstance(segmentation, list), f"{where}: segmentation must be a polygon list or an RLE"
    )
    parts = _parts(segmentation, height, width, where)
    largest = max(parts, key=_polygon_area)
    polygon = (largest / scale).astype(np.float32)
    if len(parts) == 1:
        return polygon, None
    flat = [p.reshape(-1).tolist() for p in parts]
    merged = mask_utils.merge(mask_utils.frPyObjects(flat, height, width))
    return polygon, mask_utils.decode(merged).astype(bool)


def load_coco_instances(json_path: str, image_dir: str) -> tuple[list[str], list[SegSample]]:
    """(class names, samples) of a COCO instances file whose images live in `image_dir`."""
    data = _load_json(json_path)
    for number, category in enumerate(data["categories"]):
        _need(category, ("id", "name"), f"{json_path}: categories[{number}]")
    categories = sorted(data["categories"], key=lambda c: c["id"])
    ids = [c["id"] for c in categories]
    require(len(set(ids)) == len(ids), f"{json_path}: duplicate category ids")
    require(ids, f"{json_path}: 'categories' is empty")
    class_of = {cid: index for index, cid in enumerate(ids)}
    images = {}
    for number, image in enumerate(data["images"]):
        _need(image, ("id", "file_name", "height", "width"), f"{json_path}: images[{number}]")
        require(
            image["id"] not in images,
            f"{json_path}: images[{number}]: duplicate image id {image['id']}",
        )
        images[image["id"]] = image
    by_image: dict = {image_id: [] for image_id in images}
    crowd = empty = 0
    for number, annotation in enumerate(data["annotations"]):
        where = f"{json_path}: annotations[{number}] (id {annotation.get('id', '?')})"
        _need(annotation, ("image_id", "category_id", "segmentation"), where)
        require(
            annotation["image_id"] in images,
            f"{where}: image_id {annotation['image_id']} is not in 'images'",
        )
        require(
            annotation["category_id"] in class_of,
            f"{where}: category_id {annotation['category_id']} is not in 'categories'",
        )
        if annotation.get("iscrowd", 0):
            crowd += 1
            continue
        by_image[annotation["image_id"]].append((number, annotation))
    samples, skipped = [], []
    for image_id in sorted(images):
        image = images[image_id]
        path = os.path.join(image_dir, image["file_name"])
        require(
            os.path.isfile(path),
            f"{json_path}: image {image['file_name']!r} (id {image_id}) not found in {image_dir}",
        )
        size = probe_image(path)
        if size is None:
            skipped.append(path)
            continue
        height, width = int(image["height"]), int(image["width"])
        require(
            size == (height, width),
            f"{json_path}: image id {image_id}: JSON says {height}x{width}, {path} is {size[0]}x{size[1]}",
        )
        classes, polygons, masks, lines = [], [], [], []
        for number, annotation in by_image[image_id]:
            where = f"{json_path}: annotations[{number}] (id {annotation.get('id', '?')})"
            polygon, mask = _instance(annotation, height, width, where)
            if mask is not None and not mask.any():
                empty += 1
                continue
            classes.append(class_of[annotation["category_id"]])
            polygons.append(polygon)
            masks.append(mask)
            lines.append(int(annotation.get("id", number + 1)))
        has_masks = any(m is not None for m in masks)
        samples.append(
            SegSample(
                os.path.abspath(path),
                os.path.splitext(os.path.basename(path))[0],
                height,
                width,
                np.array(classes, np.int64),
                polygons,
                np.array(lines, np.int64),
                masks if has_masks else None,
            )
        )
    if crowd or empty:
        logging.warning("%s: skipped %d crowd and %d empty annotation(s)", json_path, crowd, empty)
    warn_skipped(json_path, skipped)
    require(samples, f"{json_path}: none of its {len(images)} images could be decoded")
    return [str(c["name"]) for c in categories], samples
