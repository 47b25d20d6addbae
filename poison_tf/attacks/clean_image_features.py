"""Per-instance feature vectors for t-SNE pair selection, pooled from a base-model feature map.

t-SNE pair selection embeds each ground-truth instance by the base model's features under it.
`pool_instances` averages one image's feature map [h, w, C] (any stride, e.g. the P3 neck
output) over each instance's mask, taken from the overlap map of the training records
(0 = background, i + 1 = instance i, at S/4) resized to the feature grid by nearest neighbour.
An instance too small to own a cell there falls back to its box (cells whose centres lie in
the box), and a box smaller than a cell to the cell under the box centre, so every instance
gets a vector.
"""

from __future__ import annotations

import numpy as np


def _nearest_resize(overlap_map: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = (np.arange(height) + 0.5) * overlap_map.shape[0] / height
    cols = (np.arange(width) + 0.5) * overlap_map.shape[1] / width
    return overlap_map[rows.astype(int)[:, None], cols.astype(int)[None, :]]


def pool_instances(
    feature_map: np.ndarray, overlap_map: np.ndarray | None, boxes: np.ndarray, input_size: int
) -> np.ndarray:
    """Mean feature [n, C] of each instance (mask-pooled, box as fallback; see module docstring).

    `boxes` are xyxy in input pixels (the records' boxes), `input_size` the square input side S;
    `overlap_map=None` pools every instance over its box.

    Args:
        feature_map: [h, w, C] base-model features of one image.
        overlap_map: the image's instance map (i + 1 = instance i) at any resolution, or None.
        boxes: [n, 4] xyxy instance boxes in input pixels.
        input_size: S of the S×S input.

    Returns:
        float32 [n, C], one pooled feature per instance.
    """
    feature_map = np.asarray(feature_map, np.float32)
    height, width, channels = feature_map.shape
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    cells = None
    if overlap_map is not None:
        cells = _nearest_resize(np.asarray(overlap_map).squeeze(), height, width)
    stride_y, stride_x = input_size / height, input_size / width
    centres_y = (np.arange(height) + 0.5) * stride_y
    centres_x = (np.arange(width) + 0.5) * stride_x
    pooled = np.zeros((len(boxes), channels), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        region = cells == i + 1 if cells is not None else np.zeros((height, width), bool)
        if not region.any():
            region = ((centres_y >= y1) & (centres_y <= y2))[:, None] & (
                (centres_x >= x1) & (centres_x <= x2)
            )[None, :]
        if not region.any():
            row = min(int((y1 + y2) / 2 / stride_y), height - 1)
            col = min(int((x1 + x2) / 2 / stride_x), width - 1)
            region[max(row, 0), max(col, 0)] = True
        pooled[i] = feature_map[region].mean(0)
    return pooled
