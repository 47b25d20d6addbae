"""Ultralytics YOLO-seg folders (`data.yaml` + images/ + labels/) → in-memory `SegSample`s.

Why: the clean-image backdoor study trains on YOLO-seg data (coco8/128-seg, the project's own
synthetic streets), so this reader is the single entry point every seg source goes through
(COCO JSON and the synthetic renderer produce the same `SegSample`s).

Semantics follow Ultralytics 8.3 (`data/utils.py`):
- `data.yaml` needs `names` (a list, or a dict {0: name, 1: ...} with keys exactly 0..n-1),
  `train` and `val`. Each split is a folder, a `.txt` list of image paths, or a list of those.
  They are relative to `path` when given (itself relative to the yaml's folder), else to the
  yaml's folder. Lines of a `.txt` list are relative to the `.txt`'s folder.
- An image's label file replaces the LAST `/images/` of its path by `/labels/` and its suffix by
  `.txt` (`img2label_paths`). A missing or empty label file is a background image.
- A label line is `cls x1 y1 x2 y2 ...`: an integer class and >= 3 normalised (x, y) points.
  Coordinates may exceed [0, 1] by at most `COORD_TOLERANCE` = 1e-6 (rounding of 6-decimal
  files) and are then clipped; anything further out is an error (Ultralytics rejects it too).
- Images that cannot be decoded (or are under 10 px, as Ultralytics requires) are skipped,
  counted and named in one warning; a split with no usable image is an error.
Every label error names the label file and its 1-based line.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from absl import logging
from PIL import Image, ImageOps

from poison_tf.errors import UserInputError, require
from poison_tf.io.safe_read import load_yaml, read_text, walk_files

IMAGE_SUFFIXES = (".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp")
COORD_TOLERANCE = 1e-6
MIN_IMAGE_SIDE = 10


@dataclasses.dataclass
class SegSample:
    """One image and its instances; polygons are normalised (x, y) in [0, 1].

    `masks` is None for polygon-only sources. When a source has instances that are not one
    polygon (COCO RLE or multi-part polygons) it is a list of n entries: None for a polygon
    instance, or a bool [height, width] full-resolution mask that replaces the polygon when
    rasterising (its `polygons` entry is then the largest part, or empty [0, 2] for RLE).
    """

    image_path: str
    stem: str
    height: int
    width: int
    classes: np.ndarray
    polygons: list[np.ndarray]
    lines: np.ndarray
    masks: list[np.ndarray | None] | None = None

    @property
    def num_instances(self) -> int:
        return int(len(self.classes))


@dataclasses.dataclass
class DataConfig:
    """A parsed data.yaml: class names, the dataset root and each split's raw entries."""

    yaml_path: str
    root: str
    names: list[str]
    splits: dict[str, list[str]]

    def split_dirs(self, split: str) -> list[str]:
        """The absolute folders / .txt lists of `split`."""
        if split not in self.splits:
            raise UserInputError(
                f"{self.yaml_path}: no split {split!r} (has {sorted(self.splits)})"
            )
        return [os.path.normpath(os.path.join(self.root, entry)) for entry in self.splits[split]]


def _parse_names(raw: object, where: str) -> list[str]:
    if isinstance(raw, list | tuple):
        names = [str(n) for n in raw]
    elif isinstance(raw, dict):
        # Checked before sorting: keys that mix int and str cannot be sorted at all.
        require(
            all(isinstance(k, int) and not isinstance(k, bool) for k in raw)
            and sorted(raw) == list(range(len(raw))),
            f"{where}: 'names' keys must be the integers 0..n-1, got {list(raw)[:8]}",
        )
        names = [str(raw[k]) for k in sorted(raw)]
        raw = [raw[k] for k in sorted(raw)]
    else:
        raise UserInputError(f"{where}: 'names' must be a list or a {{index: name}} dict")
    require(len(names) > 0, f"{where}: 'names' is empty")
    bad = [n for n in raw if isinstance(n, list | dict | tuple) or n is None]
    require(not bad, f"{where}: every class name must be text, got {bad[0]!r}" if bad else "")
    return names


def read_data_yaml(path: str) -> DataConfig:
    """Parses and checks a YOLO data.yaml (names, train, val; folders must exist)."""
    require(os.path.lexists(path), f"{path}: data.yaml not found")
    raw = load_yaml(path, "data.yaml")  # UTF-8, no aliases (alias bombs), bounded nesting
    require(isinstance(raw, dict), f"{path}: not a YAML mapping with names/train/val")
    missing = [key for key in ("names", "train", "val") if not raw.get(key)]
    require(not missing, f"{path}: missing key(s) {missing}")
    folder = os.path.dirname(os.path.abspath(path))
    root = os.path.join(folder, str(raw["path"])) if raw.get("path") else folder
    splits = {}
    for split in ("train", "val", "test"):
        entry = raw.get(split)
        if not entry:
            continue
        entries = [str(e) for e in entry] if isinstance(entry, list) else [str(entry)]
        for item in entries:
            full = os.path.normpath(os.path.join(root, item))
            require(os.path.exists(full), f"{path}: {split}: {full} does not exist")
        splits[split] = entries
    return DataConfig(
        os.path.abspath(path), os.path.normpath(root), _parse_names(raw["names"], path), splits
    )


def list_images(source: str) -> list[str]:
    """Image files under a folder (recursive, sorted) or listed in a .txt file."""
    if os.path.isdir(source) and not source.endswith(".txt"):
        # walk_files, not a recursive glob: a symlink loop made glob run forever, and a
        # dangling link is named instead of skipped.
        return sorted(walk_files(source, IMAGE_SUFFIXES))
    require(source.endswith(".txt"), f"{source}: a split must be a folder or a .txt list of images")
    parent = os.path.dirname(source)
    images = []
    for number, line in enumerate(read_text(source, "image list").splitlines(), 1):
        entry = line.strip()
        if not entry:
            continue
        full = os.path.normpath(os.path.join(parent, entry))
        require(os.path.isfile(full), f"{source}:{number}: image {full} does not exist")
        if full.lower().endswith(IMAGE_SUFFIXES):
            images.append(full)
    return images


def label_path(image_path: str) -> str:
    """Ultralytics `img2label_paths`: last /images/ → /labels/, suffix → .txt."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return os.path.splitext(sb.join(image_path.rsplit(sa, 1)))[0] + ".txt"


def _line_error(path: str, number: int, problem: str) -> UserInputError:
    return UserInputError(f"{path}:{number}: {problem}")


def parse_label_file(
    path: str, num_classes: int
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """(classes int64 [n], polygons float32 [k, 2] each, 1-based lines int64 [n]) of one file."""
    classes, polygons, lines = [], [], []
    if os.path.lexists(path):  # a missing label file is a background image; anything else is read
        for number, line in enumerate(read_text(path, "label file").splitlines(), 1):
            tokens = line.split()
            if not tokens:
                continue
            try:
                cls = int(tokens[0])
            except ValueError:
                raise _line_error(path, number, f"class {tokens[0]!r} is not an integer") from None
            if not 0 <= cls < num_classes:
                raise _line_error(
                    path, number, f"class {cls} is not in names (0..{num_classes - 1})"
                )
            try:
                coords = np.array([float(t) for t in tokens[1:]], np.float64)
            except ValueError as error:
                raise _line_error(path, number, f"non-numeric coordinate ({error})") from None
            if len(coords) % 2:
                raise _line_error(path, number, f"odd number of coordinates ({len(coords)})")
            if len(coords) < 6:
                raise _line_error(
                    path, number, f"a polygon needs at least 3 points, got {len(coords) // 2}"
                )
            if not np.isfinite(coords).all():
                raise _line_error(path, number, "coordinate is NaN or infinite")
            low, high = coords.min(), coords.max()
            if low < -COORD_TOLERANCE or high > 1 + COORD_TOLERANCE:
                raise _line_error(
                    path,
                    number,
                    f"coordinates must be normalised to [0, 1], got {low:g}..{high:g}",
                )
            classes.append(cls)
            polygons.append(np.clip(coords, 0.0, 1.0).reshape(-1, 2).astype(np.float32))
            lines.append(number)
    return np.array(classes, np.int64), polygons, np.array(lines, np.int64)


def probe_image(path: str) -> tuple[int, int] | None:
    """(height, width) after EXIF orientation, or None when the image cannot be decoded."""
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            width, height = image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    if min(height, width) < MIN_IMAGE_SIDE:
        return None
    return height, width


def warn_skipped(where: str, skipped: list[str]) -> None:
    """One warning naming the images that were skipped (never silent)."""
    if skipped:
        shown = ", ".join(skipped[:10]) + (
            f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        )
        logging.warning(
            "%s: skipped %d image(s) that could not be decoded: %s", where, len(skipped), shown
        )


def load_split(data_yaml: str, split: str) -> tuple[list[str], list[SegSample]]:
    """(class names, samples) of one split; undecodable images are skipped with a warning."""
    config = read_data_yaml(data_yaml)
    images = [image for source in config.split_dirs(split) for image in list_images(source)]
    require(images, f"{data_yaml}: split {split!r} has no images")
    samples, skipped = [], []
    for image_path in images:
        size = probe_image(image_path)
        if size is None:
            skipped.append(image_path)
            continue
        labels = label_path(image_path)
        classes, polygons, lines = parse_label_file(labels, len(config.names))
        samples.append(
            SegSample(
                os.path.abspath(image_path),
                os.path.splitext(os.path.basename(image_path))[0],
                size[0],
                size[1],
                classes,
                polygons,
                lines,
            )
        )
    warn_skipped(f"{data_yaml} [{split}]", skipped)
    require(
        samples, f"{data_yaml}: split {split!r}: none of its {len(images)} images could be decoded"
    )
    return config.names, samples


def write_label_file(path: str, classes: np.ndarray, polygons: list[np.ndarray]) -> None:
    """Writes a YOLO-seg label file (6 decimals), the inverse of `parse_label_file`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        for cls, polygon in zip(classes, polygons):
            coords = " ".join(f"{v:.6f}" for v in np.asarray(polygon, np.float64).reshape(-1))
            handle.write(f"{int(cls)} {coords}\n")
