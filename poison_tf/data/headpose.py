"""Real head-pose readers: a source on disk → (uint8 images [N, S, S, 3], float32 [N, 3] angles).

Angles are (yaw, pitch, roll) in degrees; every reader crops the face (as described below),
resizes it to S×S with PIL bilinear resampling and returns RGB. Each user-caused problem (a
missing or corrupt file, a bad row, an angle that is NaN or beyond ±180°, a box outside its
image, an empty source) is a `UserInputError` naming the file, the row/line, and the problem.

Layouts read, each as the dataset ships it, so no conversion step is needed:

- `csv:<file>` (the project's own table): a header row with `image` (relative to the CSV's
  folder, or absolute), `yaw`, `pitch`, `roll` in degrees, and optionally all four of
  `x_min, y_min, w, h` (face box in pixels; a row with all four empty uses the whole image).
- `opal23:<folder or file>`: the CMU-Panoptic label file of pcr-upm/opal23_headpose,
  `panoptic_labels.txt` (first line `#;image;x_min;y_min;w;h;yaw;pitch;roll`, `;`-separated rows,
  image paths relative to the file's folder; `#`/`@` lines are skipped as that repo's loader does).
  A `.json` file is read as that repo's COCO-like `example.json` (`bbox` = [x, y, w, h],
  `pose` = [yaw, pitch, roll]).
- `aflw2000:<folder>`: AFLW2000-3D as released, `imageNNNNN.jpg` beside `imageNNNNN.mat`.
  `Pose_Para` (1×7) = [pitch, yaw, roll, tx, ty, tz, scale] in radians → degrees, reordered.
  Crop: the box of the 68 fitted landmarks (`pt3d_68` rows x, y; else `pt2d`) enlarged as in
  Hopenet's AFLW2000 loader (natanielruiz/deep-head-pose, code/datasets.py): k = 0.2, 2k·w
  left and right, 2k·h above (forehead), 0.6k·h below, clipped to the image; no landmarks →
  whole image.
- `biwi:<root>`: the BIWI Kinect Head Pose database, `<root>/<NN>/frame_XXXXX_rgb.png` with
  `frame_XXXXX_pose.txt` (three rows of the head rotation R, then the head centre in mm;
  `*.cal` files are not needed). Euler angles as in Hopenet's BIWI loader (same file), so that
  BIWI signs agree with AFLW2000/300W-LP: M = Rᵀ, pitch = atan2(M21, M22),
  yaw = -atan2(-M20, √(M21² + M22²)), roll = -atan2(M10, M00); i.e. M = Rz(-roll)·Ry(-yaw)·Rx(pitch).
  BIWI ships no face box, so the crop is the centred square of side min(width, height).
- `pandora:<root>`: Pandora (Borghi et al., CVPR 2017), `<subject>/<sequence>/RGB/<frame>_RGB.png`
  and a per-sequence `data.json`: a list of frames with `frame_num` and `orientation`
  {`yaw`, `pitch`, `roll`} in degrees (`head_center` unused). These keys follow the dataset's
  description; a code search found no copy of the file to check them against, so `data.json` is
  found by walking the folder, frames match files by the integer before `_RGB` (any zero padding), and a
  missing key is a clear error. Crop: the centred square, as for BIWI.
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from poison_tf.errors import UserInputError
from poison_tf.io.safe_read import check_input_file, load_json, read_text, walk_files

FORMATS = ("pandora", "biwi", "aflw2000", "csv", "opal23")
ANGLES = ("yaw", "pitch", "roll")
BOX = ("x_min", "y_min", "w", "h")
MAX_ANGLE = 180.0
AFLW_MARGIN = 0.2  # Hopenet's k for AFLW2000

# A record: (image path, (yaw, pitch, roll), crop, where). The crop is None (whole image), a
# user box (x, y, w, h) that must lie in the image, or a function (W, H) -> (x0, y0, x1, y1).
Crop = tuple[float, float, float, float] | Callable[[int, int], tuple[float, ...]] | None
Record = tuple[pathlib.Path, np.ndarray, Crop, str]


def numbers(values: Sequence, names: Sequence[str], where: str) -> list[float]:
    """Parses `values` as floats; a missing or non-numeric one names its column."""
    out = []
    for name, value in zip(names, values, strict=True):
        text = "" if value is None else str(value).strip()
        if not text:
            raise UserInputError(f"{where}: missing value for {name!r}")
        try:
            out.append(float(text))
        except ValueError:
            raise UserInputError(f"{where}: {name!r} is not a number: {text!r}") from None
    return out


def check_angles(angles: Sequence[float], where: str) -> np.ndarray:
    """(yaw, pitch, roll) in degrees, finite and within ±180, as float32."""
    a = np.asarray(angles, dtype=np.float64)
    for name, value in zip(ANGLES, a):
        if not math.isfinite(value):
            raise UserInputError(f"{where}: {name} is {value} (angles must be finite)")
        if abs(value) > MAX_ANGLE:
            raise UserInputError(f"{where}: {name} = {value:g} is outside [-180, 180] degrees")
    return a.astype(np.float32)


def open_rgb(path: pathlib.Path, where: str) -> Image.Image:
    """Decodes an image file with PIL; missing, unreadable and corrupt files are user errors."""
    if not os.path.lexists(path):
        raise UserInputError(f"{where}: image file {path} does not exist")
    check_input_file(str(path), f"{where}: image file")
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise UserInputError(f"{where}: cannot decode image {path} ({e})") from None


def crop_box(crop: Crop, width: int, height: int, where: str) -> tuple[int, int, int, int]:
    """The pixel box (x0, y0, x1, y1) to cut from a width×height image."""
    if crop is None:
        return 0, 0, width, height
    if callable(crop):
        x0, y0, x1, y1 = crop(width, height)
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(width, int(math.ceil(x1))), min(height, int(math.ceil(y1)))
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else (0, 0, width, height)
    x, y, w, h = crop
    if not all(math.isfinite(v) for v in crop) or w <= 0 or h <= 0:
        raise UserInputError(
            f"{where}: face box {list(crop)} must have a positive width and height"
        )
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise UserInputError(
            f"{where}: face box x={x:g} y={y:g} w={w:g} h={h:g} lies outside the "
            f"{width}x{height} image"
        )
    return int(x), int(y), max(int(x) + 1, int(round(x + w))), max(int(y) + 1, int(round(y + h)))


def load_face(path: pathlib.Path, crop: Crop, size: int, where: str) -> np.ndarray:
    """Decode → crop → size×size bilinear resize → uint8 [size, size, 3]."""
    img = open_rgb(path, where)
    box = crop_box(crop, img.width, img.height, where)
    return np.asarray(img.crop(box).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def centre_square(width: int, height: int) -> tuple[float, float, float, float]:
    side = min(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2
    return x0, y0, x0 + side, y0 + side


def _table_record(base: pathlib.Path, image: str, box, angles, where: str) -> Record:
    """One row of a csv/opal23 table: image path, optional box strings, angle strings."""
    image = "" if image is None else str(image).strip()
    if not image:
        raise UserInputError(f"{where}: missing image path")
    path = pathlib.Path(image) if pathlib.Path(image).is_absolute() else base / image
    crop = None
    if box is not None and any(str(v).strip() for v in box):
        crop = tuple(numbers(box, BOX, where))
    return path, check_angles(numbers(angles, ANGLES, where), where), crop, where


def read_csv(path: str) -> list[Record]:
    import pandas as pd

    file = pathlib.Path(path)
    if not os.path.lexists(file):
        raise UserInputError(f"{file}: CSV file does not exist")
    check_input_file(str(file), "CSV file")
    try:
        table = pd.read_csv(file, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise UserInputError(f"{file}: not a readable CSV ({e})") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("image", *ANGLES) if c not in table.columns]
    if missing:
        raise UserInputError(f"{file}: missing column(s) {missing}; found {list(table.columns)}")
    has_box = [c in table.columns for c in BOX]
    if any(has_box) and not all(has_box):
        raise UserInputError(
            f"{file}: face box columns must be all of {list(BOX)} or none; "
            f"missing {[c for c, h in zip(BOX, has_box) if not h]}"
        )
    records = []
    for i, row in enumerate(table.to_dict("records")):
        where = f"{file} row {i + 1} (line {i + 2})"
        box = [row[c] for c in BOX] if all(has_box) else None
        records.append(
            _table_record(file.parent, row["image"], box, [row[c] for c in ANGLES], where)
        )
    return records


def read_opal23(path: str) -> list[Record]:
    file = pathlib.Path(path)
    if file.is_dir():
        file = file / "panoptic_labels.txt"
    if not os.path.lexists(file):
        raise UserInputError(f"{file}: label file does not exist")
    if file.suffix.lower() == ".json":
        return _read_opal23_json(file)
    records = []
    for n, line in enumerate(read_text(str(file), "label file").splitlines(), 1):
        parts = [p.strip() for p in line.strip().split(";")]
        if not line.strip() or parts[0] in ("#", "@"):
            continue
        where = f"{file} line {n}"
        if len(parts) != 8:
            raise UserInputError(
                f"{where}: expected 8 ';'-separated fields "
                f"(image;x_min;y_min;w;h;yaw;pitch;roll), got {len(parts)}"
            )
        records.append(_table_record(file.parent, parts[0], parts[1:5], parts[5:8], where))
    return records


def _read_opal23_json(file: pathlib.Path) -> list[Record]:
    data = load_json(str(file), "label file")
    try:
        images = {_hashable(im["id"]): im["file_name"] for im in data["images"]}
        annotations = list(data["annotations"])
    except (KeyError, TypeError) as e:
        raise UserInputError(
            f"{file}: not an opal23 COCO-like json ({type(e).__name__}: {e})"
        ) from None
    records = []
    for i, ann in enumerate(annotations):
        where = f"{file} annotation {i}"
        if not isinstance(ann, dict) or _hashable(ann.get("image_id")) not in images:
            raise UserInputError(f"{where}: no image_id matching an entry of 'images'")
        box, pose = ann.get("bbox") or [None] * 4, ann.get("pose") or [None] * 3
        if (
            not isinstance(box, list)
            or not isinstance(pose, list)
            or len(box) != 4
            or len(pose) != 3
        ):
            raise UserInputError(f"{where}: 'bbox' needs 4 numbers and 'pose' 3")
        records.append(_table_record(file.parent, images[ann["image_id"]], box, pose, where))
    return records


def _hashable(value: object) -> object:
    """`value` when it can be a dict key (an id), else a marker no id equals (a list, a dict)."""
    return value if isinstance(value, int | str | float) else ("unhashable", repr(value))


def _mat_numbers(mat: dict, key: str, default: np.ndarray, where: str) -> np.ndarray:
    """A numeric .mat field as float64, or a message when it holds text, cells or structs."""
    value = np.asarray(mat.get(key, default))
    if value.dtype.kind not in "fiu":
        raise UserInputError(
            f"{where}: '{key}' must be a real numeric array, got {value.dtype} {value.shape}"
        )
    return value.astype(np.float64)


def _landmark_crop(points: np.ndarray) -> Callable[[int, int], tuple[float, ...]]:
    x_min, y_min = points[0].min(), points[1].min()
    w, h = points[0].max() - x_min, points[1].max() - y_min
    k = AFLW_MARGIN
    box = (x_min - 2 * k * w, y_min - 2 * k * h, x_min + w + 2 * k * w, y_min + h + 0.6 * k * h)
    return lambda width, height: box


def read_aflw2000(path: str) -> list[Record]:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    root = _folder(path)
    records = []
    for mat_path in sorted(root.glob("*.mat")):
        where = str(mat_path)
        try:
            mat = loadmat(str(mat_path))
        except (MatReadError, ValueError, OSError, EOFError, TypeError, NotImplementedError) as e:
            raise UserInputError(f"{where}: cannot read the .mat file ({e})") from None
        pose = _mat_numbers(mat, "Pose_Para", np.zeros(0), where).ravel()
        if pose.size < 3:
            raise UserInputError(
                f"{where}: no 'Pose_Para' with [pitch, yaw, roll] (keys: "
                f"{sorted(k for k in mat if not k.startswith('__'))})"
            )
        pitch, yaw, roll = np.degrees(pose[:3])
        crop = None
        for key in ("pt3d_68", "pt2d"):
            pts = _mat_numbers(mat, key, np.zeros((0, 0)), where)
            if pts.ndim == 2 and pts.shape[0] >= 2 and pts.shape[1] > 0:
                pts = pts[:2, (pts[0] >= 0) & (pts[1] >= 0)]  # AFLW marks absent points with -1
                if pts.shape[1] > 0 and np.isfinite(pts).all():
                    crop = _landmark_crop(pts)
                    break
        image = next(
            (
                mat_path.with_suffix(s)
                for s in (".jpg", ".png")
                if mat_path.with_suffix(s).is_file()
            ),
            mat_path.with_suffix(".jpg"),
        )
        records.append((image, check_angles([yaw, pitch, roll], where), crop, where))
    return records


def biwi_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a BIWI `_pose.txt` rotation (Hopenet's convention)."""
    m = np.asarray(rotation, dtype=np.float64).T
    pitch = math.atan2(m[2, 1], m[2, 2])
    yaw = -math.atan2(-m[2, 0], math.hypot(m[2, 1], m[2, 2]))
    roll = -math.atan2(m[1, 0], m[0, 0])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def read_biwi(path: str) -> list[Record]:
    records = []
    for pose_file in sorted(_folder(path).glob("*/frame_*_pose.txt")):
        where = str(pose_file)
        try:
            values = [float(v) for v in read_text(str(pose_file), "BIWI pose file").split()]
        except ValueError as e:
            raise UserInputError(f"{where}: not a BIWI pose file ({e})") from None
        if len(values) != 12:
            raise UserInputError(
                f"{where}: expected a 3x3 rotation and a 3-vector (12 numbers), got {len(values)}"
            )
        angles = check_angles(biwi_angles(np.reshape(values[:9], (3, 3))), where)
        image = pose_file.with_name(pose_file.name.replace("_pose.txt", "_rgb.png"))
        records.append((image, angles, centre_square, where))
    return records


def read_pandora(path: str) -> list[Record]:
    records = []
    folder = _folder(path)
    found = (f for f in walk_files(str(folder)) if os.path.basename(f) == "data.json")
    for data_file in sorted(pathlib.Path(f) for f in found):
        frames = load_json(str(data_file), "Pandora data file")
        if not isinstance(frames, list):
            raise UserInputError(
                f"{data_file}: expected a list of frames, got {type(frames).__name__}"
            )
        rgb = {}
        for f in (data_file.parent / "RGB").glob("*_RGB.*"):
            head = f.name.split("_RGB")[0]
            if head.isdigit():
                rgb[int(head)] = f
        for i, frame in enumerate(frames):
            where = f"{data_file} frame entry {i}"
            try:
                number, orientation = int(frame["frame_num"]), frame["orientation"]
                angles = [orientation[k] for k in ANGLES]
            except (KeyError, TypeError, ValueError) as e:
                raise UserInputError(
                    f"{where}: needs 'frame_num' and 'orientation' "
                    f"{{yaw, pitch, roll}} ({type(e).__name__}: {e})"
                ) from None
            image = rgb.get(number, data_file.parent / "RGB" / f"{number}_RGB.png")
            records.append(
                (image, check_angles(numbers(angles, ANGLES, where), where), centre_square, where)
            )
    return records


def _folder(path: str) -> pathlib.Path:
    root = pathlib.Path(path)
    if not root.is_dir():
        raise UserInputError(f"{root}: dataset folder does not exist")
    return root


READERS = {
    "pandora": read_pandora,
    "biwi": read_biwi,
    "aflw2000": read_aflw2000,
    "csv": read_csv,
    "opal23": read_opal23,
}


def load_headpose_source(name: str, path: str, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Reads `<name>:<path>` → (uint8 [N, S, S, 3] face crops, float32 [N, 3] yaw/pitch/roll°)."""
    if name not in READERS:
        raise UserInputError(
            f"unknown head-pose source format {name!r}; valid: {', '.join(FORMATS)}"
            " (as <format>:<path>, or 'synthetic')"
        )
    if not path:
        raise UserInputError(f"source {name}: no path given (use {name}:<path>)")
    records = READERS[name](path)
    if not records:
        raise UserInputError(f"{path}: no {name} head-pose records found")
    images = np.empty((len(records), image_size, image_size, 3), dtype=np.uint8)
    for i, (image, _, crop, where) in enumerate(records):
        images[i] = load_face(image, crop, image_size, where)
    return images, np.stack([r[1] for r in records]).astype(np.float32)
