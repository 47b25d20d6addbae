"""pandas tables → Markdown and CSV, the shapes every study report shares."""

from __future__ import annotations

import pandas as pd

from poison_tf.io.atomic import atomic_file


def to_markdown(frame: pd.DataFrame, float_format: str = "{:.4f}", index: bool = True) -> str:
    """A GitHub-flavoured Markdown table (no `tabulate` dependency)."""
    frame = frame.reset_index() if index else frame

    def cell(value) -> str:
        if isinstance(value, float):
            return float_format.format(value)
        return str(value)

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def write_csv(frame: pd.DataFrame, path: str, index: bool = True) -> None:
    with atomic_file(path) as handle:
        frame.to_csv(handle, index=index)
