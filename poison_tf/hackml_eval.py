"""`poison-tf-eval <data.h5> <model.h5> [<detector.h5>]`: CSAW-HackML's `eval.py` in Keras 3.

With a model only it prints the one line the original prints, `Classification accuracy: <pct>`
(percent, Python float repr, e.g. `Classification accuracy: 97.88689702953148`). With a detector
it answers the challenge's repaired classifier G: class N+1 (1283 for the HackML nets, in general
the model's class count) for every input the detector flags, else the BadNet's argmax; it then
prints the accuracy of those repaired labels and how many inputs were flagged. Labels equal to N
are accepted with a detector (ground truth "poisoned"), never without one.

Images are read from the h5 batch by batch (the real files are 0.4–0.7 GB), each global batch is
split over the replicas of `--strategy`, and the per-image answers are gathered back in file
order. `--output` writes one CSV row per image. The progress bar goes to stderr so stdout holds
only the result lines. `--no_rescale` is for the lab-3 BadNet, which takes raw 0–255 pixels.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from poison_tf import cli
from poison_tf.data.hackml import HackMLData, open_hackml
from poison_tf.defences.base import Detector, load_detector
from poison_tf.errors import UserInputError
from poison_tf.io.atomic import atomic_file
from poison_tf.io.model_loading import classifier_signature, load_hackml_model
from poison_tf.io.safe_read import check_output_path
from poison_tf.train.strategy import STRATEGIES, is_chief, resolve_strategy

FLAGS = flags.FLAGS
USAGE = "usage: poison-tf-eval <data.h5> <model.h5> [<detector.h5>]"
CSV_COLUMNS = ("index", "label", "prediction", "model_prediction", "confidence", "score", "flagged")

flags.DEFINE_bool("no_rescale", False, "Feed raw 0-255 pixels (the lab-3 BadNet) instead of /255.")
flags.DEFINE_bool(
    "unsafe_deserialization",
    False,
    "Allow Lambda and custom layers in the model file (runs code from the file).",
)
# Generic names that other programs define too: allow_override lets them share one process
# (the test session) instead of failing with DuplicateFlagError; the meaning is the same.
flags.DEFINE_string(
    "output",
    None,
    "Optional CSV with one row per image: " + ",".join(CSV_COLUMNS),
    allow_override=True,
)
flags.DEFINE_integer("batch_size", 256, "Global batch size for scoring.", allow_override=True)
flags.DEFINE_enum(
    "strategy", "default", list(STRATEGIES), "tf.distribute strategy.", allow_override=True
)


@dataclass
class Scores:
    """Per-image answers, in file order.

    Attributes:
        labels: int64 [N], the file's labels.
        model_prediction: int64 [N], the model's argmax.
        confidence: float32 [N], the model's output at its argmax.
        score: float64 [N] detector scores, None without a detector.
        flagged: bool [N], flagged by the detector (all False without one).
        num_classes: N, the model's class count (a flagged image is answered with class N).
    """

    labels: np.ndarray  # int64 [N]
    model_prediction: np.ndarray  # int64 [N], the model's argmax
    confidence: np.ndarray  # float32 [N], the model's output at its argmax
    score: np.ndarray | None  # float64 [N] detector scores, None without a detector
    flagged: np.ndarray  # bool [N]
    num_classes: int

    @property
    def prediction(self) -> np.ndarray:
        """The repaired labels: class N (= N+1-th class) where flagged, else the model's."""
        return np.where(self.flagged, self.num_classes, self.model_prediction)

    def accuracy_percent(self) -> float:
        # Same arithmetic as eval.py (mean of equalities, times 100), so the digits match.
        """eval.py's "Classification accuracy": the answers (flagged → class N) against the labels.

        Returns:
            The accuracy in percent.
        """
        return float(np.mean(np.equal(self.prediction, self.labels)) * 100)


def _predictor(model: keras.Model, strategy: tf.distribute.Strategy):
    """numpy batch → (argmax, max) per image, the batch split over the strategy's replicas."""

    def replica_fn(x):
        probs = model(x, training=False)
        return tf.argmax(probs, axis=-1), tf.reduce_max(probs, axis=-1)

    @tf.function(reduce_retracing=True)
    def step(x):
        argmax, top = strategy.run(replica_fn, args=(x,))
        return strategy.gather(argmax, axis=0), strategy.gather(top, axis=0)

    replicas = strategy.num_replicas_in_sync

    def predict(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Equal shards: the batch is padded with copies of its last image up to a multiple of
        # the replica count (an empty shard fails in TF 2.21's CPU conv: "input depth must be
        # evenly divisible by filter depth"), and the padded answers are dropped.
        count = len(images)
        padding = -count % replicas
        if padding:
            images = np.concatenate([images, np.repeat(images[-1:], padding, axis=0)])
        shards = np.split(images, replicas)
        x = strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(shards[context.replica_id_in_sync_group])
        )
        argmax, top = step(x)
        return argmax.numpy()[:count].astype(np.int64), top.numpy()[:count]

    return predict


@contextlib.contextmanager
def _without_cpu_add_relu_fusion():
    """Turns grappler's remapper off while scoring on CPU, then restores it.

    On CPU, TF 2.21's oneDNN remapper fuses the BadNet's Add + ReLU into a node with no kernel,
    logs four ERROR/WARNING lines per traced shape and falls back to the unfused graph
    (measured; TF_ENABLE_ONEDNN_OPTS=0 silences it too). The answers are the same either way;
    this only keeps the program's stderr readable. GPU runs keep the remapper.
    """
    if tf.config.list_logical_devices("GPU"):
        yield
        return
    before = tf.config.optimizer.get_experimental_options().get("remapping", True)
    tf.config.optimizer.set_experimental_options({"remapping": False})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": before})


def score_file(
    data: HackMLData,
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    num_classes: int,
    batch_size: int,
    detector: Detector | None = None,
    progress: bool = True,
) -> Scores:
    """Runs the model (and the detector) over every image of `data`, one batch at a time.

    Args:
        data: the opened HackML .h5 file.
        model: the classifier.
        strategy: the tf.distribute strategy the model was loaded under.
        num_classes: the model's class count.
        batch_size: images per batch.
        detector: a fitted detector, or None.
        progress: show a progress bar.

    Returns:
        The per-image answers.

    Raises:
        RuntimeError: a detector returned the wrong number of scores (a programming error).
    """
    n = data.num_examples
    model_prediction = np.zeros(n, np.int64)
    confidence = np.zeros(n, np.float32)
    score = np.zeros(n, np.float64) if detector is not None else None
    predict = _predictor(model, strategy)
    # The bar goes to stderr: it must not mix with the result lines on stdout.
    with _without_cpu_add_relu_fusion(), contextlib.redirect_stdout(sys.stderr):
        bar = keras.utils.Progbar(n, unit_name="image") if progress else None
        for indices, images, _ in data.batches(batch_size):
            model_prediction[indices], confidence[indices] = predict(images)
            if detector is not None:
                batch_scores = np.asarray(detector.score(images), dtype=np.float64).reshape(-1)
                if batch_scores.shape[0] != len(indices):
                    raise RuntimeError(
                        f"{type(detector).__name__}.score returned "
                        f"{batch_scores.shape[0]} scores for {len(indices)} images"
                    )
                score[indices] = batch_scores
            if bar is not None:
                bar.update(int(indices[-1]) + 1)
    # flag(x) is defined as score(x) > threshold; comparing here avoids scoring twice.
    flagged = score > detector.threshold if detector is not None else np.zeros(n, bool)
    return Scores(data.labels, model_prediction, confidence, score, flagged, num_classes)


def write_csv(path: str, scores: Scores) -> None:
    """One row per image (see CSV_COLUMNS), written atomically.

    Args:
        path: the CSV file.
        scores: the per-image answers.
    """
    prediction = scores.prediction
    with atomic_file(path, "w") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for i in range(len(scores.labels)):
            writer.writerow(
                [
                    i,
                    int(scores.labels[i]),
                    int(prediction[i]),
                    int(scores.model_prediction[i]),
                    f"{float(scores.confidence[i]):.6g}",
                    "" if scores.score is None else repr(float(scores.score[i])),
                    int(scores.flagged[i]),
                ]
            )


def _check_compatible(
    data: HackMLData,
    model_path: str,
    input_shape: tuple,
    num_classes: int,
    detector: Detector | None,
    detector_path: str | None,
) -> None:
    expected = tuple(input_shape)
    if len(expected) != 3 or any(
        m is not None and m != d for m, d in zip(expected, data.image_shape)
    ):
        raise UserInputError(
            f"model file {model_path} takes inputs {expected} (H, W, C) but {data.path} holds "
            f"images of {data.image_shape}"
        )
    top = num_classes if detector is not None else num_classes - 1
    outside = np.flatnonzero(data.labels > top)
    if outside.size:
        first = int(outside[0])
        raise UserInputError(
            f"{data.path}: label {int(data.labels[first])} at index {first} is outside the "
            f"model's {num_classes} classes (0..{num_classes - 1}"
            + (f", or {num_classes} = flagged" if detector is not None else "")
            + f"); {outside.size} such label(s)"
        )
    if detector is not None:
        shape = tuple(detector.input_shape) if detector.input_shape is not None else None
        if shape != tuple(data.image_shape):
            raise UserInputError(
                f"detector file {detector_path} was made for inputs {shape} but {data.path} "
                f"and the model use {tuple(data.image_shape)}"
            )


def main(argv: list[str]) -> None:
    """`poison-tf-eval <data.h5> <model.h5> [<detector.h5>]`: eval.py's accuracy, plus detection.

    Args:
        argv: the program name and its two or three positional arguments.

    Raises:
        UserInputError: a wrong argument count, a bad flag, or files that do not fit each other.
    """
    strategy = resolve_strategy(FLAGS.strategy)  # first: multi_worker must precede other ops
    args = argv[1:]
    if len(args) not in (2, 3):
        raise UserInputError(f"{USAGE} (got {len(args)} argument(s))")
    if FLAGS.batch_size < 1:
        raise UserInputError(f"--batch_size={FLAGS.batch_size}: must be at least 1")
    if FLAGS.output:  # fail before scoring, not after
        check_output_path(FLAGS.output, "--output")
    data_path, model_path = args[0], args[1]
    detector_path = args[2] if len(args) == 3 else None

    data = open_hackml(data_path, rescale=not FLAGS.no_rescale)
    with strategy.scope():
        model = load_hackml_model(model_path, unsafe=FLAGS.unsafe_deserialization)
    input_shape, num_classes = classifier_signature(model, model_path)
    detector = load_detector(detector_path) if detector_path else None
    _check_compatible(data, model_path, input_shape, num_classes, detector, detector_path)

    with strategy.scope():
        scores = score_file(data, model, strategy, num_classes, FLAGS.batch_size, detector)
    print("Classification accuracy:", scores.accuracy_percent())
    if detector is not None:
        count = int(scores.flagged.sum())
        print(
            f"Flagged as poisoned (class {num_classes}): {count} of {data.num_examples} "
            f"({100.0 * count / data.num_examples:.4g}%)"
        )
    if FLAGS.output and is_chief():
        write_csv(FLAGS.output, scores)


def run() -> None:
    """Console-script entry point (`poison-tf-eval`)."""
    cli.run(main)


if __name__ == "__main__":
    run()
