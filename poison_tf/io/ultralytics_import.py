"""Ultralytics YOLOv8-seg checkpoint (`.pt`) -> the project's `YoloV8Seg` + import metadata.

The architecture is read from the checkpoint's own yaml (full-object files: `nc`, the scale's
depth / width multiples and max channels, checked layer by layer against `yolov8-seg.yaml`), or
from the tensor shapes of a plain state_dict (stem width -> size, `cv3` outputs -> classes,
`cv4` outputs -> mask coefficients), so any size n/s/m/l/x and any class count imports without
a size flag. The result takes the project's input (RGB float32 0..255, the 1/255 is inside the
model) and gives the project's raw outputs; equivalence with Ultralytics' own eval-mode forward
is tested in tests/io/test_ultralytics_import.py.
"""

from __future__ import annotations

import math
import os

import keras
import numpy as np

from poison_tf.errors import UserInputError, require
from poison_tf.io.ultralytics_checkpoint import UltralyticsCheckpoint, read_checkpoint
from poison_tf.io.ultralytics_weights import HEAD_INDEX, c2f_depths, load_tensors
from poison_tf.models.yolo_v8_seg import SIZES, SizeSpec, YoloV8Seg

DEFAULT_IMAGE_SIZE = 640  # Ultralytics' default imgsz when the file does not say
# yolov8-seg.yaml, layer by layer: (from, repeats, module, args); the Segment head's nc and nm
# are free (args[0:2]), everything else must match for the layer mapping to hold.
REFERENCE_LAYERS = (
    (-1, 1, "Conv", [64, 3, 2]),
    (-1, 1, "Conv", [128, 3, 2]),
    (-1, 3, "C2f", [128, True]),
    (-1, 1, "Conv", [256, 3, 2]),
    (-1, 6, "C2f", [256, True]),
    (-1, 1, "Conv", [512, 3, 2]),
    (-1, 6, "C2f", [512, True]),
    (-1, 1, "Conv", [1024, 3, 2]),
    (-1, 3, "C2f", [1024, True]),
    (-1, 1, "SPPF", [1024, 5]),
    (-1, 1, "nn.Upsample", [None, 2, "nearest"]),
    ([-1, 6], 1, "Concat", [1]),
    (-1, 3, "C2f", [512]),
    (-1, 1, "nn.Upsample", [None, 2, "nearest"]),
    ([-1, 4], 1, "Concat", [1]),
    (-1, 3, "C2f", [256]),
    (-1, 1, "Conv", [256, 3, 2]),
    ([-1, 12], 1, "Concat", [1]),
    (-1, 3, "C2f", [512]),
    (-1, 1, "Conv", [512, 3, 2]),
    ([-1, 9], 1, "Concat", [1]),
    (-1, 3, "C2f", [1024]),
    ([15, 18, 21], 1, "Segment", ["nc", 32, 256]),
)
_STEM_WIDTH_TO_SIZE = {16: "n", 32: "s", 48: "m", 64: "l", 80: "x"}  # model.0 output channels


def _make_divisible(x: float, divisor: int = 8) -> int:
    return int(math.ceil(x / divisor) * divisor)


def _normalised(layer) -> tuple:
    source, repeats, module, args = layer
    return (str(source), int(repeats), str(module), [str(a) for a in args])


def _check_yaml_layers(yaml: dict, path: str) -> None:
    layers = list(yaml.get("backbone", [])) + list(yaml.get("head", []))
    require(bool(layers), f"{path}: the model yaml has no backbone/head layers")
    head = str(layers[-1][2])
    require(
        head == "Segment",
        f"{path}: a {head} checkpoint (task {_task_of(head)}), not a segmentation one; "
        "the ultralytics importer takes YOLOv8-seg checkpoints (yolov8*-seg.pt)",
    )
    for index, (got, want) in enumerate(zip(layers, REFERENCE_LAYERS)):
        got_n, want_n = _normalised(got), _normalised(want)
        if index == len(REFERENCE_LAYERS) - 1 == len(layers) - 1:
            got_n, want_n = got_n[:3] + (got_n[3][2:],), want_n[:3] + (want_n[3][2:],)
        require(
            got_n == want_n,
            f"{path}: layer {index} is {got_n}, yolov8-seg.yaml has {want_n}: "
            "another architecture (YOLO11 / v9 / a custom yaml) cannot be imported as YOLOv8-seg",
        )
    require(
        len(layers) == len(REFERENCE_LAYERS),
        f"{path}: {len(layers)} layers, yolov8-seg.yaml has {len(REFERENCE_LAYERS)}: not a YOLOv8-seg",
    )
    activation = yaml.get("activation")
    require(
        activation in (None, "nn.SiLU()"),
        f"{path}: activation {activation!r}; YOLOv8-seg uses SiLU",
    )


def _task_of(head: str) -> str:
    return {"Detect": "detect", "Classify": "classify", "Pose": "pose", "OBB": "obb"}.get(
        head, head.lower()
    )


def _multiples(yaml: dict) -> tuple[float, float, float]:
    """(depth, width, max_channels) as Ultralytics `parse_model` reads them."""
    scales = yaml.get("scales")
    if scales:
        scale = yaml.get("scale") or next(iter(scales))  # Ultralytics assumes the first scale
        require(scale in scales, f"model yaml: scale {scale!r} is not one of {sorted(scales)}")
        depth, width, max_channels = scales[scale]
        return float(depth), float(width), float(max_channels)
    return float(yaml.get("depth_multiple", 1.0)), float(yaml.get("width_multiple", 1.0)), math.inf


def size_from_yaml(yaml: dict, path: str) -> str:
    """The `SIZES` key whose channels and depths `yaml`'s multiples give."""
    _check_yaml_layers(yaml, path)
    depth, width, max_channels = _multiples(yaml)

    def channels(c: int) -> int:
        return _make_divisible(min(c, max_channels) * width)

    def repeats(n: int) -> int:
        return max(round(n * depth), 1) if n > 1 else n

    spec = SizeSpec(
        tuple(channels(c) for c in (128, 256, 512, 1024)),
        tuple(repeats(n) for n in (3, 6, 6, 3)),
        repeats(3),
        channels(256),
    )
    for name, known in SIZES.items():
        if known == spec and name != "tiny" and channels(64) == spec.stackwise_channels[0] // 2:
            return name
    raise UserInputError(
        f"{path}: depth {depth}, width {width}, max_channels {max_channels} give {spec}, "
        "which is none of the YOLOv8-seg sizes n/s/m/l/x"
    )


def size_from_tensors(tensors: dict[str, np.ndarray], path: str) -> str:
    """The size of a plain state_dict, from its stem width and first C2f depth."""
    stem = tensors.get("model.0.conv.weight")
    require(stem is not None, f"{path}: no model.0.conv.weight: not an Ultralytics YOLO state_dict")
    size = _STEM_WIDTH_TO_SIZE.get(int(stem.shape[0]))
    require(
        size is not None,
        f"{path}: stem width {stem.shape[0]} is none of YOLOv8's n/s/m/l/x "
        f"({sorted(_STEM_WIDTH_TO_SIZE)})",
    )
    depth = c2f_depths(tensors)[2]
    require(
        depth == SIZES[size].stackwise_depth[0],
        f"{path}: model.2 has {depth} bottlenecks, YOLOv8{size} has {SIZES[size].stackwise_depth[0]}",
    )
    return size


def _head_shapes(tensors: dict[str, np.ndarray], path: str, head: str | None) -> tuple[int, int]:
    """(num_classes, num_masks) from the Segment head's output convs."""
    head_prefix = f"model.{HEAD_INDEX}"
    classes = tensors.get(f"{head_prefix}.cv3.0.2.weight")
    masks = tensors.get(f"{head_prefix}.cv4.0.2.weight")
    has_proto = any(k.startswith(f"{head_prefix}.proto.") for k in tensors)
    if classes is None or masks is None or not has_proto:
        kind = head or (
            "detect"
            if classes is not None
            else "classify"
            if any(".linear." in k for k in tensors)
            else "unknown"
        )
        raise UserInputError(
            f"{path}: not a segmentation checkpoint (no {head_prefix}.cv4 / .proto mask head; "
            f"looks like a {kind} model); the ultralytics importer takes YOLOv8-seg checkpoints"
        )
    return int(classes.shape[0]), int(masks.shape[0])


def _image_size(train_args: dict) -> int:
    imgsz = train_args.get("imgsz")
    if isinstance(imgsz, int) and imgsz >= 32 and imgsz % 32 == 0:
        return imgsz
    return DEFAULT_IMAGE_SIZE


def import_checkpoint(
    checkpoint: UltralyticsCheckpoint, num_classes: int | None = None, image_size: int | None = None
) -> tuple[keras.Model, dict]:
    """`import_ultralytics` on an already read checkpoint, at any `image_size` (multiple of 32)."""
    path, tensors = checkpoint.path, checkpoint.tensors
    if checkpoint.yaml is not None:  # the architecture first: its errors say the most
        size, read_from = size_from_yaml(checkpoint.yaml, path), "yaml"
    elif checkpoint.head not in (None, "Segment", "SegmentationModel"):
        _check_yaml_layers({"head": [[-1, 1, checkpoint.head, []]]}, path)
    nc, nm = _head_shapes(tensors, path, checkpoint.head)
    if checkpoint.yaml is not None:
        require(
            int(checkpoint.yaml.get("nc", nc)) == nc,
            f"{path}: yaml nc={checkpoint.yaml.get('nc')} but the class head has {nc} outputs",
        )
    else:
        size, read_from = size_from_tensors(tensors, path), "tensor shapes"
    require(
        num_classes is None or num_classes == nc,
        f"{path}: the checkpoint has {nc} classes, --num_classes={num_classes}; import it with "
        f"its own {nc} (fine-tuning with --init_weights re-initialises the class head)",
    )
    size_px = image_size or _image_size(checkpoint.train_args)
    model = YoloV8Seg(num_classes=nc, image_size=size_px, size=size, num_masks=nm)
    count = load_tensors(model, tensors, path)
    names = checkpoint.names or {}
    class_names = [names.get(i, str(i)) for i in range(nc)]
    depth, width, max_channels = _multiples(checkpoint.yaml) if checkpoint.yaml else (None,) * 3
    # The schema every importer shares (poison-tf-import writes it into the .keras and beside it),
    # with the YOLO specifics under "yolo".
    metadata = {
        "source": "ultralytics",
        "architecture": f"YOLOv8{size}-seg (Ultralytics yolov8-seg.yaml, read from the {read_from})",
        "weights_file": os.path.basename(path),
        "weights_sha256": checkpoint.sha256,
        "num_classes": nc,
        "class_names": class_names,
        "input": f"NHWC RGB float32 in [0, 255], {size_px}x{size_px} (any multiple of 32 after "
        "with_image_size), letterboxed with pad value 114 as Ultralytics does",
        "input_size": size_px,
        "preprocessing": {"inside_model": True, "formula": "x / 255 (the model's Rescaling)"},
        "outputs": "dict: boxes [B,A,64] DFL logits, classes [B,A,nc] logits, coefficients "
        "[B,A,nm], protos [B,S/4,S/4,nm]; anchors P3..P5 row-major (Ultralytics order); "
        "decode and NMS with poison_tf.models.yolo_seg_postprocess",
        "yolo": {
            "size": size,
            "num_masks": nm,
            "image_size": size_px,
            "depth_multiple": depth,
            "width_multiple": width,
            "max_channels": None if max_channels in (None, math.inf) else max_channels,
            "read_from": read_from,
            "layout": checkpoint.layout,
            "ultralytics_version": checkpoint.version,
            "date": checkpoint.date,
            "numbers_copied": count,  # weights + BatchNorm statistics
        },
    }
    return model, metadata


def import_ultralytics(
    weights_path: str, *, num_classes: int | None, trust_pickle: bool
) -> tuple[keras.Model, dict]:
    """Imports an Ultralytics YOLOv8-seg checkpoint as the project's `YoloV8Seg`.

    Args:
        weights_path: a `.pt` file: Ultralytics' full-object checkpoint (needs `trust_pickle`) or
            a plain state_dict (read with `torch.load(weights_only=True)`, size from its shapes).
        num_classes: the class count the caller expects; None takes the checkpoint's.
        trust_pickle: allow full unpickling (runs code from the file).

    Returns:
        (the Keras model at the checkpoint's training size, 640 if it does not say; metadata:
        source, architecture, weights file and SHA-256, class count and names, input,
        preprocessing, outputs, and the YOLO specifics under "yolo"). `with_image_size` rebuilds it at
        another size with the same weights.

    Raises:
        UserInputError: an unreadable / truncated / non-torch file, a full-object file without
            `trust_pickle`, a checkpoint that is not YOLOv8-seg, a class count other than
            `num_classes`, missing / unexpected / mis-shaped tensors.
    """
    checkpoint = read_checkpoint(weights_path, trust_pickle)
    return import_checkpoint(checkpoint, num_classes=num_classes)
