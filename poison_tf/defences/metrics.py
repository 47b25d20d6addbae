"""Detection metrics for backdoor input detectors, in the HackML report's terms.

FRR (false-rejection rate) is the fraction of clean inputs flagged, i.e. answered "N+1";
the detection rate is the fraction of triggered inputs flagged (1 - FAR in STRIP's terms).
ROC-AUC summarises the score independently of the threshold, which is what lets detectors
calibrated with different rules (mean + k·std, a chosen FRR) be compared fairly.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from poison_tf.errors import require


def detection_metrics(
    clean_scores: np.ndarray, poisoned_scores: np.ndarray, threshold: float
) -> dict[str, float]:
    """FRR and detection rate at `threshold` (flag = score > threshold), plus ROC-AUC.

    Poisoned inputs are the positive class; ties in score count half, as in sklearn.

    Args:
        clean_scores: scores of clean inputs.
        poisoned_scores: scores of triggered inputs.
        threshold: the flag threshold.

    Returns:
        {"frr", "detection_rate", "roc_auc", "threshold"}.

    Raises:
        UserInputError: an empty or non-finite score array.
    """
    clean = np.asarray(clean_scores, dtype=np.float64).ravel()
    poisoned = np.asarray(poisoned_scores, dtype=np.float64).ravel()
    require(clean.size > 0 and poisoned.size > 0, "detection_metrics: empty score array")
    require(
        bool(np.all(np.isfinite(clean)) and np.all(np.isfinite(poisoned))),
        "detection_metrics: scores contain NaN or inf",
    )
    labels = np.concatenate([np.zeros(clean.size), np.ones(poisoned.size)])
    return {
        "frr": float(np.mean(clean > threshold)),
        "detection_rate": float(np.mean(poisoned > threshold)),
        "roc_auc": float(roc_auc_score(labels, np.concatenate([clean, poisoned]))),
        "threshold": float(threshold),
    }
