"""Fit and score cost of the four input detectors on a DeepID BadNet, per 10k images.

Builds the HackML DeepID BadNet (55x47x3, `--num_classes` classes, random weights from
`--seed`) and random 0-1 images (`--fit_images` clean images to fit on, `--score_images` to
score). For each detector, in one process: `fit` is timed once (it includes the detector's
calibration on the clean images), then `score` on the scoring images `--repeats` times; the
first score call traces the detector's functions and is reported apart ("cold"), the median of
the others is the warm cost. Two references run the BadNet alone on the same images: a plain
`model.predict(x, batch_size=256)`, and the detectors' own way to run a net (`streaming.compiled`
tf.function over batches of 512, numpy out), which is faster on CPU. Both are timed right after
every score call, so each RATIO (a detector's warm score time over the reference call that
followed it, median over the warm calls) compares calls made under the same machine load.
Times are scaled linearly to 10k images (fit: per 10k fitting images).

Detectors and their settings (the library's defaults unless named):
- VAE: `VAEDetector(epochs=--vae_epochs)` (latent 128, batch 128).
- STRIP: `StripDetector(model)` (32 blends, pool 100).
- fine-pruning: `FinePruningDetector(model, layer="conv_3", finetune_epochs=--finetune_epochs)`;
  how many channels it pruned is printed (with random weights its accuracy on its own
  predictions drops fast, so the pruning loop stops early; a trained net prunes longer).
- Mahalanobis: `MahalanobisDetector(model)` (penultimate features, 5 folds).

    .venv/bin/python benchmarks/detectors.py                      # ~2-3 min on 2 cores
    .venv/bin/python benchmarks/detectors.py --fit_images=10000 --score_images=10000
"""

from __future__ import annotations

import statistics
import time

from absl import app, flags
from benchmark_flags import define_seed
from machine import machine

flags.DEFINE_integer("fit_images", 2000, "Clean images each detector is fitted on.")
flags.DEFINE_integer("score_images", 2000, "Images scored per timed call.")
flags.DEFINE_integer("num_classes", 1283, "Classes of the BadNet (HackML: 1283).")
flags.DEFINE_integer("vae_epochs", 1, "VAE training epochs.")
flags.DEFINE_integer("finetune_epochs", 1, "Fine-pruning fine-tuning epochs.")
flags.DEFINE_integer("repeats", 3, "Score calls per detector (the first is cold).")
flags.DEFINE_list(
    "detectors", ["vae", "strip", "fine_pruning", "mahalanobis"], "Detectors to measure."
)
define_seed(3, "the weights and images")

FLAGS = flags.FLAGS
PER = 10_000


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def make_detector(name: str, model):
    from poison_tf.defences.fine_pruning import FinePruningDetector
    from poison_tf.defences.mahalanobis import MahalanobisDetector
    from poison_tf.defences.strip import StripDetector
    from poison_tf.defences.vae import VAEDetector

    if name == "vae":
        return VAEDetector(epochs=FLAGS.vae_epochs, seed=FLAGS.seed)
    if name == "strip":
        return StripDetector(model, seed=FLAGS.seed)
    if name == "fine_pruning":
        return FinePruningDetector(
            model, layer="conv_3", finetune_epochs=FLAGS.finetune_epochs, seed=FLAGS.seed
        )
    if name == "mahalanobis":
        return MahalanobisDetector(model, seed=FLAGS.seed)
    raise ValueError(f"unknown detector {name!r}")


def main(argv: list[str]) -> None:
    del argv
    import keras
    import numpy as np

    from poison_tf.defences import streaming
    from poison_tf.models.deepid_badnet import build_deepid_badnet

    keras.utils.set_random_seed(FLAGS.seed)
    model = build_deepid_badnet(num_classes=FLAGS.num_classes)
    rng = np.random.default_rng(FLAGS.seed)
    shape = (55, 47, 3)
    fit_x = (rng.integers(0, 256, (FLAGS.fit_images, *shape)) / 255).astype(np.float32)
    score_x = (rng.integers(0, 256, (FLAGS.score_images, *shape)) / 255).astype(np.float32)
    n_fit, n_score = len(fit_x), len(score_x)

    # Two references: Keras' predict, and the detectors' own way to run a net (a tf.function
    # over batches of 512, numpy out). Both are timed right after each detector score call, so
    # that the ratios compare calls made under the same load of the shared machine.
    forward = streaming.compiled(lambda b: model(b, training=False), shape)
    references = {
        "predict": lambda: model.predict(score_x, batch_size=256, verbose=0),
        "forward": lambda: streaming.map_batches(forward, score_x, 512),
    }
    for reference in references.values():  # warm-up: tracing
        reference()

    rows, ref_times = [], {name: [] for name in references}
    for name in FLAGS.detectors:
        detector = make_detector(name, model)
        _, fit_wall, fit_cpu = timed(lambda d=detector: d.fit(fit_x))
        scores, ratios = [], {ref: [] for ref in references}
        for repeat in range(FLAGS.repeats):
            scores.append(timed(lambda d=detector: d.score(score_x)))
            for ref, fn in references.items():
                _, wall, cpu = timed(fn)
                ref_times[ref].append((wall, cpu))
                if repeat > 0 or FLAGS.repeats == 1:
                    ratios[ref].append((scores[-1][1] / wall, scores[-1][2] / cpu))
        result, cold_wall, _ = scores[0]
        warm = scores[1:] or scores
        warm_wall = statistics.median(w for _, w, _ in warm)
        warm_cpu = statistics.median(c for _, _, c in warm)
        assert np.shape(result) == (n_score,), np.shape(result)
        note = ""
        if name == "fine_pruning":
            note = f"pruned {int((~detector.keep).sum())}/{len(detector.keep)} conv_3 channels"
        medians = {
            ref: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
            for ref, r in ratios.items()
        }
        rows.append((name, fit_wall, fit_cpu, cold_wall, warm_wall, warm_cpu, medians))
        print(
            f"  {name:12s} fit {fit_wall:6.1f} s ({n_fit} images)  score cold {cold_wall:6.2f} s"
            f"  warm {warm_wall:6.2f} s ({n_score} images)  {note}",
            flush=True,
        )

    print(
        f"\nmachine: {machine()}; BadNet with "
        f"{FLAGS.num_classes} classes, random weights; fit on {n_fit}, score {n_score} images; "
        "seconds per 10k images (fit: per 10k fitting images):"
    )
    print(
        f"  {'detector':12s} {'fit s/10k':>10s} {'fit CPU-s':>10s} {'score s/10k':>12s} "
        f"{'CPU-s/10k':>10s} {'cold s/10k':>11s}"
    )
    for name, fit_wall, fit_cpu, cold, warm_wall, warm_cpu, _ in rows:
        print(
            f"  {name:12s} {fit_wall * PER / n_fit:10.1f} {fit_cpu * PER / n_fit:10.1f} "
            f"{warm_wall * PER / n_score:12.2f} {warm_cpu * PER / n_score:10.2f} "
            f"{cold * PER / n_score:11.2f}"
        )
    for ref, times in ref_times.items():
        wall = statistics.median(w for w, _ in times)
        cpu = statistics.median(c for _, c in times)
        print(
            f"  {ref:12s} {'':10s} {'':10s} {wall * PER / n_score:12.2f} "
            f"{cpu * PER / n_score:10.2f}   ({n_score / cpu:.0f} images/CPU-s)"
        )
    print("(ratios: median over warm calls of score time / the reference call right after it)")
    for name, *_, medians in rows:
        (pw, pc), (fw, fc) = medians["predict"], medians["forward"]
        print(
            f"RATIO {name + ' score/predict':26s} {pw:6.2f} wall {pc:6.2f} CPU   "
            f"score/forward {fw:6.2f} wall {fc:6.2f} CPU"
        )


if __name__ == "__main__":
    app.run(main)
