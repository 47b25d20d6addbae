"""BackdoorBench's metrics: clean accuracy, attack success rate, robust accuracy, DER and RIR.

Definitions follow SCLBD/BackdoorBench @ f02e353 (`utils/metric.py`, `utils/trainer_cls.py`):
- C-Acc: accuracy on the clean test set.
- ASR: on the attack test set, i.e. every *non-target-class* test image with the trigger
  (`generate_single_target_attack_train_poison_index(..., train=False)` keeps `targets != tlabel`),
  the share predicted as the target class.
- RA (robust accuracy): on the same triggered images, the share still predicted as their true
  class.
- DER (defence effectiveness rating) = [max(0, ΔASR) − max(0, ΔACC) + 1] / 2 with
  ΔASR = ASR_bd − ASR_def and ΔACC = C-Acc_bd − C-Acc_def, the docstring of `utils/metric.py` and
  `defense_effectiveness_rate_simplied` in `analysis/visual_metric.py` (BackdoorBench v2, arXiv
  2407.19845). Note: `utils/metric.py`'s own `defense_effectiveness_rate` adds the accuracy term
  (a sign slip against its docstring); the documented, used-for-plots formula is the one here.
  1 is a perfect defence (ASR to 0, no accuracy lost), 0.5 a defence that changes nothing.
- RIR (robust improvement rate) = [max(0, RA_def − RA_bd) − max(0, ΔACC) + 1] / 2, same file.
All values are fractions in [0, 1] (BackdoorBench prints percentages).
"""

from __future__ import annotations

import numpy as np

from poison_tf.errors import require


def clean_accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Share of clean test images predicted as their label."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    require(predictions.size > 0, "clean_accuracy: no test images")
    return float(np.mean(predictions == labels))


def attack_success_rate(bd_predictions: np.ndarray, target: int) -> float:
    """Share of triggered non-target images predicted as `target` (pass only those images)."""
    bd_predictions = np.asarray(bd_predictions)
    require(bd_predictions.size > 0, "attack_success_rate: no triggered non-target images")
    return float(np.mean(bd_predictions == target))


def robust_accuracy(bd_predictions: np.ndarray, true_labels: np.ndarray) -> float:
    """Share of triggered non-target images still predicted as their true class."""
    bd_predictions, true_labels = np.asarray(bd_predictions), np.asarray(true_labels)
    require(bd_predictions.size > 0, "robust_accuracy: no triggered non-target images")
    return float(np.mean(bd_predictions == true_labels))


def defence_effectiveness_rating(
    acc_bd: float, acc_defence: float, asr_bd: float, asr_defence: float
) -> float:
    """DER = [max(0, ASR_bd − ASR_def) − max(0, C-Acc_bd − C-Acc_def) + 1] / 2."""
    return (max(0.0, asr_bd - asr_defence) - max(0.0, acc_bd - acc_defence) + 1.0) / 2.0


def robust_improvement_rate(
    acc_bd: float, acc_defence: float, ra_bd: float, ra_defence: float
) -> float:
    """RIR = [max(0, RA_def − RA_bd) − max(0, C-Acc_bd − C-Acc_def) + 1] / 2."""
    return (max(0.0, ra_defence - ra_bd) - max(0.0, acc_bd - acc_defence) + 1.0) / 2.0


def attack_test_set(
    images: np.ndarray, labels: np.ndarray, trigger, target: int, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """(triggered non-target images, their true labels): BackdoorBench's poisoned test set."""
    keep = np.asarray(labels) != target
    require(bool(keep.any()), f"attack test set: every test image is of target class {target}")
    clean = np.asarray(images, np.float32)[keep]
    parts = [
        trigger.apply(clean[i : i + batch_size]).numpy() for i in range(0, len(clean), batch_size)
    ]
    return np.concatenate(parts), np.asarray(labels)[keep]


def evaluate(
    model,
    clean_images: np.ndarray,
    clean_labels: np.ndarray,
    bd_images: np.ndarray,
    bd_true_labels: np.ndarray,
    target: int,
    batch_size: int = 256,
) -> dict[str, float]:
    """{"clean_acc", "asr", "ra"} of a Keras classifier on the clean and the attack test sets."""
    clean_pred = np.argmax(model.predict(clean_images, batch_size=batch_size, verbose=0), -1)
    bd_pred = np.argmax(model.predict(bd_images, batch_size=batch_size, verbose=0), -1)
    return {
        "clean_acc": clean_accuracy(clean_pred, clean_labels),
        "asr": attack_success_rate(bd_pred, target),
        "ra": robust_accuracy(bd_pred, bd_true_labels),
    }


def defence_row(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The defended model's metrics plus DER and RIR against the undefended (backdoored) model."""
    return after | {
        "der": defence_effectiveness_rating(
            before["clean_acc"], after["clean_acc"], before["asr"], after["asr"]
        ),
        "rir": robust_improvement_rate(
            before["clean_acc"], after["clean_acc"], before["ra"], after["ra"]
        ),
    }


def filter_scores(removed: np.ndarray, poisoned: np.ndarray, num_examples: int) -> dict:
    """Precision / recall of a training-set filter's removed ids against the plan's poisoned ids."""
    removed_mask = np.zeros(num_examples, bool)
    removed_mask[np.asarray(removed, np.int64)] = True
    poisoned_mask = np.zeros(num_examples, bool)
    poisoned_mask[np.asarray(poisoned, np.int64)] = True
    hits = int(np.sum(removed_mask & poisoned_mask))
    return {
        "removed": int(removed_mask.sum()),
        "removed_poisoned": hits,
        "precision": hits / removed_mask.sum() if removed_mask.any() else 0.0,
        "recall": hits / poisoned_mask.sum() if poisoned_mask.any() else 0.0,
    }
