"""Tables of the clean-image backdoor study, in the shape the original write-up prints them.

The study shows, for each pair, a bold pair name (`**bridge2parking_sign**`) and the
instance-difference table: Name, Initial Count, Final Count, target row first, then host.
Its Markdown is tabulate's `github` layout (numbers right-aligned, header padded by two, no
alignment colons); `github_table` reproduces that layout without the `tabulate` dependency,
so a report can be compared line by line with the original.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import pandas as pd

from poison_tf.attacks.class_pairs import pair_slug
from poison_tf.poison.relabel_plan import RelabelPlan

INSTANCE_COLUMNS = ["Name", "Initial Count", "Final Count"]


def instance_difference_table(
    plan_or_counts: RelabelPlan | Mapping[str, tuple[int, int]],
) -> pd.DataFrame:
    """Name, Initial Count, Final Count for the target, then the host.

    Accepts a plan or {name: (initial, final)} in target, host order (as
    `RelabelPlan.instance_counts` gives)."""
    counts = (
        plan_or_counts.instance_counts()
        if isinstance(plan_or_counts, RelabelPlan)
        else plan_or_counts
    )
    rows = [(name, int(initial), int(final)) for name, (initial, final) in counts.items()]
    return pd.DataFrame(rows, columns=INSTANCE_COLUMNS)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def github_table(frame: pd.DataFrame, floatfmt: str = "g", min_padding: int = 2) -> str:
    """`frame` (index dropped) as tabulate(tablefmt="github") would print it."""
    headers = [str(c) for c in frame.columns]
    columns = [list(frame[c]) for c in frame.columns]
    numeric = [bool(col) and all(_is_number(v) for v in col) for col in columns]

    def cell(value: object) -> str:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return str(int(value))
        if _is_number(value):
            return format(float(value), floatfmt)
        return str(value)

    texts = [[cell(v) for v in col] for col in columns]
    widths = [max([len(h) + min_padding, *(len(t) for t in col)]) for h, col in zip(headers, texts)]

    def justify(text: str, width: int, right: bool) -> str:
        return text.rjust(width) if right else text.ljust(width)

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(justify(c, w, r) for c, w, r in zip(cells, widths, numeric)) + " |"

    lines = [row(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [row([col[i] for col in texts]) for i in range(len(frame))]
    return "\n".join(lines)


def pair_section(plan: RelabelPlan) -> str:
    """`**host2target**`, a blank line and the instance-difference table, as in the study."""
    return f"**{plan.pair.slug}**\n\n{github_table(instance_difference_table(plan))}\n"


def comparison_markdown(comparison: pd.DataFrame) -> str:
    """The base-vs-poisoned Δ table (`metrics.clean_image_attack.comparison_table`), 3
    significant digits like the validator, NaN cells (no masks) left empty."""
    return github_table(comparison, floatfmt=".3g").replace(" nan |", "     |")


def attack_table(summaries: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """One row per pair from `metrics.clean_image_attack.attack_summary` dicts, with the
    study's pair name (`host2target`) first."""
    frame = pd.DataFrame(list(summaries))
    if len(frame):
        slugs = [pair_slug(host, target) for host, target in zip(frame["Host"], frame["Target"])]
        frame.insert(0, "Pair", slugs)
    return frame
