"""How much of a Grad-CAM map falls inside a region (the trigger, the patch).

Both the head-pose and the patch studies report it, so it lives here rather than in either
study's explainer component.
"""

from __future__ import annotations

import numpy as np

from poison_tf.explain.gradcam import resize_cam


def mass_share(cam: np.ndarray, mask: np.ndarray | None) -> float | None:
    """Share of the upsampled map's mass inside `mask`.

    Args:
        cam: a Grad-CAM map at the feature-map resolution.
        mask: boolean [H, W] at the image resolution, or None.

    Returns:
        The share in [0, 1]; None without a mask or for an all-zero map.
    """
    if mask is None:
        return None
    full = resize_cam(cam, *mask.shape)
    total = float(full.sum())
    return None if total <= 0 else float(full[mask].sum() / total)
