"""Predicted instance masks drawn on images: the sample figures of the segmentation reports.

One figure, one row per image and one column per model (ground truth first), so a reader sees
at a glance what a poisoned model does to the host class next to the base model. Masks come at
proto resolution (S/4) and are upsampled by nearest neighbour for drawing; every class keeps
one colour across panels so host and target are easy to follow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from poison_tf.io.atomic import save_figure  # noqa: E402


def class_colours(num_classes: int) -> np.ndarray:
    """A fixed RGB colour in [0, 1] per class (tab20, cycled)."""
    cmap = plt.get_cmap("tab20")
    return np.array([cmap(i % 20)[:3] for i in range(num_classes)])


def overlay(
    image: np.ndarray,
    masks: np.ndarray,
    classes: np.ndarray,
    colours: np.ndarray,
    alpha: float = 0.45,
) -> np.ndarray:
    """uint8 image [S, S, 3] with bool masks [n, h, w] (any h dividing S) blended in."""
    out = image.astype(np.float32) / 255.0
    if len(masks):
        scale = image.shape[0] // masks.shape[1]
        for mask, cls in zip(masks, classes):
            big = np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)[
                : image.shape[0], : image.shape[1]
            ]
            out[big] = (1 - alpha) * out[big] + alpha * colours[int(cls)]
    return out


def draw_panel(
    ax,
    image: np.ndarray,
    boxes: np.ndarray,
    classes: np.ndarray,
    masks: np.ndarray,
    names: Sequence[str],
    colours: np.ndarray,
    scores: np.ndarray | None = None,
) -> None:
    ax.imshow(overlay(image, masks, classes, colours))
    for i, (box, cls) in enumerate(zip(boxes, classes)):
        x0, y0, x1, y1 = box
        colour = colours[int(cls)]
        ax.add_patch(
            plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=colour, linewidth=1)
        )
        label = names[int(cls)] + (f" {scores[i]:.2f}" if scores is not None else "")
        ax.text(
            x0,
            y0,
            label,
            fontsize=5,
            color="white",
            va="bottom",
            bbox={"facecolor": colour, "alpha": 0.8, "pad": 0.5, "linewidth": 0},
        )
    ax.set_axis_off()


def save_prediction_grid(
    path,
    images: np.ndarray,
    ground_truth: Sequence[dict],
    predictions: Mapping[str, Sequence[dict]],
    names: Sequence[str],
) -> None:
    """Rows = images; columns = ground truth, then each model's predictions (dicts with boxes,
    classes, masks and, for predictions, scores). `path` is a file path or a binary buffer."""
    colours = class_colours(len(names))
    columns = {"ground truth": ground_truth, **predictions}
    rows = len(images)
    fig, axes = plt.subplots(
        rows, len(columns), figsize=(2.6 * len(columns), 2.6 * rows), squeeze=False
    )
    for c, (title, items) in enumerate(columns.items()):
        axes[0, c].set_title(title, fontsize=8)
        for r in range(rows):
            item = items[r]
            draw_panel(
                axes[r, c],
                images[r],
                item["boxes"],
                item["classes"],
                item["masks"],
                names,
                colours,
                item.get("scores"),
            )
    fig.tight_layout()
    if isinstance(path, str):
        save_figure(fig, path, dpi=110)
    else:
        fig.savefig(path, format="png", dpi=110)
        plt.close(fig)
