"""`poison-tf-seg-val`: Ultralytics-style Box / Mask P, R, mAP50, mAP50-95 of a segmenter.

    poison-tf-seg-val --data=<data.yaml> [--split=val] \\
        (--predictions=<coco_results.json> | --weights=<model>) [--output=<table.csv>]

With `--predictions` the detections in the file are final (no NMS, no confidence filter) and are
compared with the split's labels at the ORIGINAL image resolution: ground-truth boxes are the
polygon extents, ground-truth masks the polygons filled with PIL (pixel centres), predicted
masks decoded from their RLE / polygons (see `poison_tf.data.coco_results` for the file format:
`image_id` = image stem, `category_id` = data.yaml class index). A file without `segmentation`
fills only the Box columns; the Mask columns are NaN in the table (empty CSV cells, "nan" in the
printout). Metric semantics are in `poison_tf.metrics.seg_validation`. (Ultralytics' own `val`
compares masks at 1/4 of the letterboxed input instead; full resolution is what a results file
can give, and what COCOeval uses.)

With `--weights=<model.keras>` (a SegTrainer model) the segmenter runs over the split with
Ultralytics `val` settings and masks are compared at 1/4 of the input, as `val` does.
The table goes to stdout in Ultralytics' format; `--output` also writes it as CSV.
"""

from __future__ import annotations

import numpy as np
from absl import flags

from poison_tf import cli
from poison_tf.data.coco_results import ImageId, image_id_from_stem, read_coco_results
from poison_tf.data.yolo_seg import SegSample, load_split
from poison_tf.errors import UserInputError
from poison_tf.io.safe_read import check_output_path
from poison_tf.metrics import detection_ap
from poison_tf.metrics.seg_masks import polygon_boxes, rasterize_polygons
from poison_tf.metrics.seg_validation import SegValidator

FLAGS = flags.FLAGS

# Generic names other programs define too: allow_override lets them share one process.
flags.DEFINE_string("data", None, "YOLO-seg data.yaml.", allow_override=True)
flags.DEFINE_string("split", "val", "Split of data.yaml to validate on.", allow_override=True)
flags.DEFINE_string(
    "predictions", None, "COCO results JSON with final detections.", allow_override=True
)
flags.DEFINE_string(
    "weights", None, "Segmenter model file (.keras, from SegTrainer).", allow_override=True
)
flags.DEFINE_string("output", None, "Optional CSV path for the table.", allow_override=True)
flags.DEFINE_enum(
    "ap_sentinels",
    "8.3",
    list(detection_ap.SENTINELS),
    "compute_ap curve ends: 8.3 = Ultralytics 8.3.x (default), 8.4 = ultralytics 8.4.190.",
)


def validate_weights(
    weights: str, data_yaml: str, split: str, sentinels: str = "8.3", batch_size: int = 8
) -> SegValidator:
    """Runs a trained segmenter (`.keras` file of SegTrainer) over a split exactly as Ultralytics
    `val` does: letterboxed to the model's input size, NMS at conf 0.001 / IoU 0.7 / 300, boxes
    compared in original pixels, masks at 1/4 of the input (the overlap-map ground truth).

    Args:
        weights: the `.keras` model file.
        data_yaml: the YOLO-seg data.yaml.
        split: "train" or "val".
        sentinels: Ultralytics' AP sentinel convention ("8.3").
        batch_size: images per model call.

    Returns:
        The filled validator.

    Raises:
        UserInputError: a bad file, or a model whose class count is not the data's.
    """
    import tempfile

    from poison_tf.data.seg_examples import make_dataset, write_seg_schema, write_seg_split
    from poison_tf.io.segmenter_loading import load_segmenter
    from poison_tf.models.yolo_seg_predict import predict_dataset, validate_outputs

    model = load_segmenter(weights)  # untrusted file: config checked, safe_mode on, a segmenter
    size = int(model.input_shape[1])
    names, samples = load_split(data_yaml, split)
    if getattr(model, "num_classes", len(names)) != len(names):
        raise UserInputError(
            f"--weights={weights}: the model has {model.num_classes} classes, "
            f"{data_yaml} names {len(names)}"
        )
    with tempfile.TemporaryDirectory() as folder:
        info = write_seg_split(folder, split, samples, size, max_instances=255)
        write_seg_schema(folder, {split: info}, size, names, data_yaml, 255)
        dataset = make_dataset(folder, split, batch_size, training=False, max_instances=255)
        return validate_outputs(predict_dataset(model, dataset), names, sentinels)


def _image_sizes(samples: list[SegSample], data_yaml: str) -> dict[ImageId, tuple[int, int]]:
    sizes: dict[ImageId, tuple[int, int]] = {}
    for sample in samples:
        image_id = image_id_from_stem(sample.stem)
        if image_id in sizes:
            raise UserInputError(
                f"{data_yaml}: two images of the split have the image id {image_id!r} "
                f"({sample.image_path}); COCO results cannot tell them apart"
            )
        sizes[image_id] = (sample.height, sample.width)
    return sizes


def ground_truth(sample: SegSample, with_masks: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(xyxy boxes [n, 4], bool masks [n, h, w] or None) at the original resolution.

    Instances given as a full-resolution mask (`sample.masks[i]`, COCO RLE sources) use that
    mask and its pixel extents instead of the polygon.

    Args:
        sample: one image's labels.
        with_masks: also rasterise the masks.

    Returns:
        (boxes, masks or None).
    """
    boxes = polygon_boxes(sample.polygons, sample.height, sample.width)
    full = getattr(sample, "masks", None) or [None] * sample.num_instances
    for i, mask in enumerate(full):
        if mask is not None and mask.any():
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            boxes[i] = [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]
    if not with_masks:
        return boxes, None
    masks = rasterize_polygons(sample.polygons, sample.height, sample.width)
    for i, mask in enumerate(full):
        if mask is not None:
            masks[i] = mask
    return boxes, masks


def validate_predictions(
    data_yaml: str, split: str, predictions: str, sentinels: str = "8.3"
) -> SegValidator:
    """The filled validator for a COCO results file against a split's labels.

    Args:
        data_yaml: the YOLO-seg data.yaml.
        split: "train" or "val".
        predictions: the COCO results JSON.
        sentinels: Ultralytics' AP sentinel convention ("8.3").

    Returns:
        The filled validator.
    """
    names, samples = load_split(data_yaml, split)
    results = read_coco_results(predictions, _image_sizes(samples, data_yaml), len(names))
    with_masks = any(r.segmentations is not None for r in results.values())
    validator = SegValidator(names, masks=with_masks, sentinels=sentinels)
    for sample in samples:
        found = results.get(image_id_from_stem(sample.stem))
        gt_boxes, gt_masks = ground_truth(sample, with_masks)
        if found is None:
            empty = np.zeros((0, sample.height, sample.width), bool) if with_masks else None
            validator.update(np.zeros((0, 4)), [], [], empty, gt_boxes, sample.classes, gt_masks)
            continue
        pred_masks = found.decode_masks(sample.height, sample.width) if with_masks else None
        validator.update(
            found.boxes, found.scores, found.classes, pred_masks,
            gt_boxes, sample.classes, gt_masks,
        )  # fmt: skip
    return validator


def main(argv: list[str]) -> None:
    """`poison-tf-seg-val --data=<data.yaml> (--weights=<.keras> | --predictions=<json>)`.

    Prints Ultralytics `val`'s table (and writes it as CSV with --output).

    Args:
        argv: the program name alone (everything else is a flag).

    Raises:
        UserInputError: extra arguments, no --data, or not exactly one of --weights and
            --predictions.
    """
    if len(argv) > 1:
        raise UserInputError(f"unexpected argument(s) {argv[1:]}; everything is given by flags")
    if not FLAGS.data:
        raise UserInputError("--data=<data.yaml> is required")
    if bool(FLAGS.predictions) == bool(FLAGS.weights):
        raise UserInputError("give exactly one of --predictions=<coco_results.json> or --weights")
    if FLAGS.output:
        check_output_path(FLAGS.output, "--output")
    if FLAGS.weights:
        validator = validate_weights(FLAGS.weights, FLAGS.data, FLAGS.split, FLAGS.ap_sentinels)
    else:
        validator = validate_predictions(
            FLAGS.data, FLAGS.split, FLAGS.predictions, FLAGS.ap_sentinels
        )
    validator.print()
    if FLAGS.output:
        validator.write_csv(FLAGS.output)


def run() -> None:
    """Console-script entry point (`poison-tf-seg-val`)."""
    cli.run(main)


if __name__ == "__main__":
    run()
