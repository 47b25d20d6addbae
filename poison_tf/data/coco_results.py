"""COCO results JSON (read + write) and YOLO txt predictions (write) for segmenter outputs.

COCO results format, as read and written here: a JSON list with one object per detection,

    {"image_id": 42 | "stem", "category_id": 3, "bbox": [x, y, w, h], "score": 0.87,
     "segmentation": {"size": [h, w], "counts": "<compressed RLE>"}}      # optional

- `image_id` is the image file stem, as an int when the stem is all digits (`000000000042` → 42),
  else the stem string; `category_id` is the class index in data.yaml (0-based). Note that
  Ultralytics' `save_json` on COCO maps classes to COCO's 1..90 ids instead; such files must be
  re-mapped first.
- `bbox` is top-left x, y, width, height in original-image pixels; `score` is the confidence.
- `segmentation` (optional, all detections or none) is an RLE at the original size, compressed
  (string counts, as pycocotools writes) or uncompressed (list counts), or a list of polygons
  [[x1, y1, x2, y2, ...], ...] in pixels.
- The writer rounds bbox to 3 decimals and score to 5, as Ultralytics' `save_json` does.

YOLO txt format (`write_yolo_txt`): one `<stem>.txt` per image, one line per detection,
`cls x1 y1 x2 y2 ... xn yn conf`: the class index, the largest contour of the mask (traced at
level 0.5 between pixel centres, in continuous pixel coordinates where pixel (c, r) covers
[c, c+1] x [r, r+1]) normalised by the image width / height, then the confidence. Without a
mask (or for an empty one) the polygon is the box's four corners. File names are the image
stems (`ImagePredictions.stem`, else the image id).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from pycocotools import mask as mask_utils

from poison_tf.data.coco_checks import check_extent, check_rle_counts
from poison_tf.errors import UserInputError
from poison_tf.io.atomic import atomic_dir, atomic_file
from poison_tf.io.safe_read import load_json

ImageId = int | str


def image_id_from_stem(stem: str) -> ImageId:
    """COCO-results image id of a file stem: int when all digits, else the stem."""
    return int(stem) if stem.isdigit() else stem


@dataclasses.dataclass
class ImagePredictions:
    """Final detections of one image in original-image pixels (what the writers take)."""

    image_id: ImageId
    boxes: np.ndarray  # float [D, 4] xyxy pixels
    scores: np.ndarray  # float [D]
    classes: np.ndarray  # int [D]
    masks: np.ndarray | None = None  # bool [D, h, w] at the original resolution
    height: int | None = None  # original size; needed by the YOLO txt writer
    width: int | None = None
    stem: str | None = None  # file stem for the YOLO txt file name (default: str(image_id))


@dataclasses.dataclass
class ImageResults:
    """Detections of one image read from a results file; masks stay encoded until asked."""

    boxes: np.ndarray  # float64 [D, 4] xyxy pixels
    scores: np.ndarray  # float64 [D]
    classes: np.ndarray  # int64 [D]
    segmentations: list | None  # D COCO segmentations, or None when the file has none

    def decode_masks(self, height: int, width: int) -> np.ndarray:
        """bool [D, height, width] decoded from RLE / polygons."""
        return decode_segmentations(self.segmentations or [], height, width)


def decode_segmentations(segmentations: Sequence, height: int, width: int) -> np.ndarray:
    masks = np.zeros((len(segmentations), height, width), bool)
    for i, segmentation in enumerate(segmentations):
        if isinstance(segmentation, dict):
            rle = segmentation
            if isinstance(rle["counts"], list):
                rle = mask_utils.frPyObjects(rle, height, width)
        else:
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        masks[i] = mask_utils.decode(rle).astype(bool)
    return masks


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_segmentation(segmentation, size: tuple[int, int], where: str) -> None:
    """Everything pycocotools would otherwise trust: its C code crashes the process (SIGSEGV)
    on polygon coordinates that overflow its integer grid and reads garbage RLE strings."""
    if isinstance(segmentation, dict):
        shape = segmentation.get("size")
        if not (isinstance(shape, list) and len(shape) == 2) or "counts" not in segmentation:
            raise UserInputError(f"{where}: segmentation RLE needs 'size' [h, w] and 'counts'")
        if tuple(shape) != size:
            raise UserInputError(
                f"{where}: segmentation size {shape} differs from the image's {list(size)} (h, w)"
            )
        check_rle_counts(segmentation["counts"], size, where)
        return
    ok = isinstance(segmentation, list) and segmentation and all(
        isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0
        and all(_is_number(v) for v in poly)
        for poly in segmentation
    )  # fmt: skip
    if not ok:
        raise UserInputError(
            f"{where}: segmentation must be an RLE {{size, counts}} or a list of polygons "
            "[x1, y1, x2, y2, x3, y3, ...] (at least 3 points each)"
        )
    check_extent([v for poly in segmentation for v in poly], size, where, "polygon")


def read_coco_results(
    path: str, image_sizes: Mapping[ImageId, tuple[int, int]], num_classes: int
) -> dict[ImageId, ImageResults]:
    """Reads and checks a COCO results file; returns the detections per image id.

    `image_sizes` maps every known image id to its (height, width). Images without detections
    are absent from the result. Every problem is a `UserInputError` naming the file and entry.
    """
    if not os.path.lexists(path):
        raise UserInputError(f"{path}: predictions file not found")
    entries = load_json(path, "predictions file")
    if not isinstance(entries, list):
        raise UserInputError(
            f"{path}: expected a JSON list of detections, got {type(entries).__name__}"
        )
    per_image: dict[ImageId, list] = {}
    with_masks = None
    for index, entry in enumerate(entries):
        where = f"{path}: entry {index}"
        if not isinstance(entry, dict):
            raise UserInputError(f"{where}: expected an object, got {type(entry).__name__}")
        missing = [k for k in ("image_id", "category_id", "bbox", "score") if k not in entry]
        if missing:
            raise UserInputError(f"{where}: missing {', '.join(missing)}")
        image_id = entry["image_id"]
        if not isinstance(image_id, int | str) or isinstance(image_id, bool):
            raise UserInputError(
                f"{where}: image_id must be an integer or a file stem, got "
                f"{type(image_id).__name__} {json.dumps(image_id)[:40]}"
            )
        if image_id not in image_sizes:
            raise UserInputError(
                f"{where}: unknown image_id {image_id!r} (not an image of the split)"
            )
        category = entry["category_id"]
        if (
            not isinstance(category, int)
            or isinstance(category, bool)
            or not 0 <= category < num_classes
        ):
            raise UserInputError(
                f"{where}: category_id {category!r} out of range (data.yaml has {num_classes} "
                f"classes, 0..{num_classes - 1})"
            )
        bbox = entry["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
            raise UserInputError(
                f"{where}: bbox must be 4 finite numbers [x, y, w, h], got {bbox!r}"
            )
        if bbox[2] < 0 or bbox[3] < 0:
            raise UserInputError(f"{where}: bbox {bbox} has a negative width or height")
        height, width = image_sizes[image_id]
        check_extent(
            [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]], (height, width), where, "bbox"
        )
        if not _is_number(entry["score"]):
            raise UserInputError(f"{where}: score must be a finite number, got {entry['score']!r}")
        has_mask = "segmentation" in entry
        if with_masks is None:
            with_masks = has_mask
        elif has_mask != with_masks:
            raise UserInputError(
                f"{where}: {'has' if has_mask else 'has no'} segmentation but entry 0 "
                f"{'does not' if has_mask else 'does'}; give masks for all detections or none"
            )
        if has_mask:
            _check_segmentation(entry["segmentation"], tuple(image_sizes[image_id]), where)
        per_image.setdefault(image_id, []).append(entry)
    return {image_id: _to_results(items, bool(with_masks)) for image_id, items in per_image.items()}


def _to_results(entries: list[dict], with_masks: bool) -> ImageResults:
    xywh = np.array([e["bbox"] for e in entries], np.float64).reshape(-1, 4)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    return ImageResults(
        boxes=boxes,
        scores=np.array([e["score"] for e in entries], np.float64),
        classes=np.array([e["category_id"] for e in entries], np.int64),
        segmentations=[e["segmentation"] for e in entries] if with_masks else None,
    )


def encode_masks(masks: np.ndarray) -> list[dict]:
    """Compressed RLEs ({"size": [h, w], "counts": str}) of bool masks [D, h, w]."""
    masks = np.asarray(masks, np.uint8)
    if not len(masks):
        return []
    rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0)))
    return [
        {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")} for r in rles
    ]


def _check_prediction(p: ImagePredictions, num_classes: int) -> None:
    bad = np.flatnonzero((np.asarray(p.classes) < 0) | (np.asarray(p.classes) >= num_classes))
    if bad.size:
        raise ValueError(
            f"image {p.image_id!r}: class {p.classes[bad[0]]} outside 0..{num_classes - 1}"
        )
    if p.masks is not None and len(p.masks) != len(p.scores):
        raise ValueError(
            f"image {p.image_id!r}: {len(p.masks)} masks for {len(p.scores)} detections"
        )


def coco_results_entries(predictions: ImagePredictions, num_classes: int) -> list[dict]:
    """The COCO results objects of one image (see the module docstring)."""
    _check_prediction(predictions, num_classes)
    boxes = np.asarray(predictions.boxes, np.float64).reshape(-1, 4)
    rles = encode_masks(predictions.masks) if predictions.masks is not None else None
    entries = []
    for i, box in enumerate(boxes):
        entry = {
            "image_id": predictions.image_id,
            "category_id": int(predictions.classes[i]),
            "bbox": [
                round(float(v), 3) for v in (box[0], box[1], box[2] - box[0], box[3] - box[1])
            ],
            "score": round(float(predictions.scores[i]), 5),
        }
        if rles is not None:
            entry["segmentation"] = rles[i]
        entries.append(entry)
    return entries


def write_coco_results(
    path: str, per_image_predictions: Iterable[ImagePredictions], names: Sequence[str]
) -> int:
    """Writes a COCO results JSON list atomically; returns the number of detections."""
    entries = []
    for predictions in per_image_predictions:
        entries.extend(coco_results_entries(predictions, len(names)))
    return write_coco_entries(path, entries)


def write_coco_entries(path: str, entries: list[dict]) -> int:
    """Writes already-built COCO results objects as one JSON list, atomically."""
    with atomic_file(path) as handle:
        json.dump(entries, handle)
        handle.write("\n")
    return len(entries)


def mask_polygon(mask: np.ndarray, box: np.ndarray | None = None) -> np.ndarray:
    """float64 [k, 2] (x, y) polygon of the mask's largest contour (contourpy at level 0.5 over
    the zero-padded mask) in continuous pixel coordinates; empty when the mask is empty.

    Traced inside the mask's bounding rectangle only and with collinear points dropped (as
    OpenCV's CHAIN_APPROX_SIMPLE does for Ultralytics): at conf 0.001 an image has up to 300
    full-resolution masks, and tracing whole images made the YOLO txt export take minutes.
    `box` (x1, y1, x2, y2 px), when given, bounds the search: predicted masks are cropped to
    their box, so only a 2-px margin around it is looked at."""
    import contourpy

    mask = np.asarray(mask, bool)
    y0 = x0 = 0
    if box is not None:
        x0, y0 = max(int(box[0]) - 2, 0), max(int(box[1]) - 2, 0)
        mask = mask[y0 : int(np.ceil(box[3])) + 2, x0 : int(np.ceil(box[2])) + 2]
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return np.zeros((0, 2))
    top, left = rows[0] + y0, cols[0] + x0
    window = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    padded = np.pad(window.astype(np.float64), 1)
    lines = contourpy.contour_generator(z=padded, line_type="Separate").lines(0.5)

    def area(line: np.ndarray) -> float:
        x, y = line[:, 0], line[:, 1]
        return abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))) / 2

    largest = max(lines, key=area)
    if len(largest) > 1 and np.allclose(largest[0], largest[-1]):
        largest = largest[:-1]
    if len(largest) > 3:  # drop points on a straight line between their neighbours
        before, after = (
            largest - np.roll(largest, 1, axis=0),
            np.roll(largest, -1, axis=0) - largest,
        )
        turn = np.abs(before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]) > 1e-9
        largest = largest[turn]
    return largest + [
        left - 1 + 0.5,
        top - 1 + 0.5,
    ]  # window → pixel index → continuous coordinates


def yolo_txt_lines(predictions: ImagePredictions) -> list[str]:
    """`cls x1 y1 ... xn yn conf` lines of one image (normalised polygon, see docstring)."""
    if predictions.height is None or predictions.width is None:
        raise ValueError(
            f"image {predictions.image_id!r}: height and width are needed for YOLO txt"
        )
    scale = np.array([predictions.width, predictions.height], np.float64)
    lines = []
    for i, box in enumerate(np.asarray(predictions.boxes, np.float64).reshape(-1, 4)):
        polygon = (
            mask_polygon(predictions.masks[i], box)
            if predictions.masks is not None
            else np.zeros((0, 2))
        )
        if len(polygon) < 3:
            x1, y1, x2, y2 = box
            polygon = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
        points = np.clip(polygon / scale, 0, 1).reshape(-1)
        coords = " ".join(f"{v:.6g}" for v in points)
        lines.append(f"{int(predictions.classes[i])} {coords} {float(predictions.scores[i]):.6g}")
    return lines


def write_yolo_txt(folder: str, per_image_predictions: Iterable[ImagePredictions]) -> int:
    """Writes `<folder>/<image_id>.txt` per image (atomically, as one folder); returns the
    number of files. Images without detections get an empty file."""
    return write_yolo_lines(
        folder, ((p.stem or str(p.image_id), yolo_txt_lines(p)) for p in per_image_predictions)
    )


def write_yolo_lines(folder: str, per_image_lines: Iterable[tuple[str, list[str]]]) -> int:
    """Writes `<folder>/<stem>.txt` for each (stem, lines), atomically as one folder."""
    count = 0
    with atomic_dir(folder) as tmp:
        for stem, lines in per_image_lines:
            with open(os.path.join(tmp, f"{stem}.txt"), "w") as handle:
                handle.writelines(line + "\n" for line in lines)
            count += 1
    return count
