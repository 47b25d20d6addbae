"""The per-class Box/Mask table in the shape the original study prints it.

Its header splits each group's parentheses over the cells, as Ultralytics' printout reads:
`Class | Images | Instances | Box(P | R | mAP50 | mAP50-95) | Mask(P | R | mAP50 | mAP50-95)`,
numbers with 3 significant digits (`%11.3g`, as `val` prints them).
"""

from __future__ import annotations

import pandas as pd

from poison_tf.report.clean_image_tables import github_table

STUDY_HEADER = [
    "Class",
    "Images",
    "Instances",
    "Box(P",
    "R",
    "mAP50",
    "mAP50-95)",
    "Mask(P",
    "R ",
    "mAP50 ",
    "mAP50-95) ",
]  # trailing spaces keep pandas column names unique


def class_table_markdown(table: pd.DataFrame) -> str:
    """A `SegValidator.table()` frame (or its CSV read back) as the study's Markdown table."""
    frame = table.copy()
    frame.columns = STUDY_HEADER[: len(frame.columns)]
    text = github_table(frame, floatfmt=".3g")
    return text.replace(" nan |", "     |")
