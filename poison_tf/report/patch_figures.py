"""Figures of the adversarial-patch study (matplotlib, Agg): the patch, its print, curves.

- `save_patch_png`: the patch at the victim's pixel resolution (what is pasted), PNG.
- `save_patch_pdf`: the patch at a physical size (cm) on an A4 page with the cell grid drawn,
  ready to print; the caption gives the size and the cell count.
- `plot_loss`: the loss per iteration; `plot_success_vs_area`: success rate vs patch area.
"""

from __future__ import annotations

import numpy as np

from poison_tf.io.atomic import atomic_file, save_figure


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_patch_png(pixels: np.ndarray, path: str) -> None:
    import tensorflow as tf

    data = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    with atomic_file(path, "wb") as handle:
        handle.write(tf.io.encode_png(data).numpy())


def save_patch_pdf(
    colours: np.ndarray, path: str, size_cm: float = 10.0, caption: str = ""
) -> None:
    """The k×k cells at `size_cm` × `size_cm` on an A4 portrait page, grid lines in grey."""
    plt = _pyplot()
    cells = colours.shape[0]
    inch = size_cm / 2.54
    page_w, page_h = 8.27, 11.69
    fig = plt.figure(figsize=(page_w, page_h))
    left, bottom = (page_w - inch) / 2 / page_w, (page_h - inch) / 2 / page_h
    axis = fig.add_axes([left, bottom, inch / page_w, inch / page_h])
    axis.imshow(np.clip(colours, 0, 1), interpolation="nearest", extent=(0, cells, cells, 0))
    for i in range(cells + 1):
        axis.axhline(i, color="0.5", linewidth=0.5)
        axis.axvline(i, color="0.5", linewidth=0.5)
    axis.set_xlim(0, cells)
    axis.set_ylim(cells, 0)
    axis.axis("off")
    fig.text(
        0.5,
        bottom - 0.03,
        caption or f"{cells}×{cells} cells, {size_cm:g} cm × {size_cm:g} cm (print at 100 %)",
        ha="center",
        fontsize=9,
    )
    save_figure(fig, path, "pdf")


def plot_loss(losses: list[float], path: str, title: str) -> None:
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot(np.arange(1, len(losses) + 1), losses, linewidth=0.8, label="per step")
    if len(losses) >= 10:
        window = max(5, len(losses) // 20)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        axis.plot(
            np.arange(window, len(losses) + 1), smooth, linewidth=1.5, label=f"mean of {window}"
        )
    axis.set_xlabel("iteration")
    axis.set_ylabel("loss")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def plot_success_vs_area(table, path: str, targeted: bool) -> None:
    """table: DataFrame indexed by area % with columns of success rates (patch, random control)."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(5, 3.5))
    for column in table.columns:
        axis.plot(table.index, table[column], marker="o", label=column)
    axis.set_xlabel("patch area (% of the image)")
    axis.set_ylabel(("targeted" if targeted else "untargeted") + " success rate")
    axis.set_ylim(-0.02, 1.02)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
