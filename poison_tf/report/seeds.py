"""Tables over repeated seeds: the same setting trained N times, shown as mean ± spread.

A study's number that depends on training noise (a detection rate, a patch's success rate) is
only meaningful next to how much it moves from one seed to the next. `--seeds=N` runs N seeded
copies of the seed-dependent components; their reports hand the per-seed tables (same index,
same columns) to `over_seeds`, which stacks them with the seed as the outer index level, and to
`mean_spread`, which reduces the numeric columns per row: mean and sample standard deviation
(ddof 1) across seeds. Non-numeric columns (a layer name) keep the first seed's value.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from poison_tf.report.tables import to_markdown, write_csv


def over_seeds(frames: Sequence[pd.DataFrame], seeds: Sequence[int]) -> pd.DataFrame:
    """Stacks per-seed tables into one long table with an outer `seed` index level.

    Args:
        frames: one table per seed, all with the same index names and columns.
        seeds: the seed of each table.

    Returns:
        The tables concatenated, indexed by (seed, *original index).
    """
    if len(frames) != len(seeds) or not frames:
        raise ValueError(f"over_seeds: {len(frames)} tables for {len(seeds)} seeds")
    return pd.concat(list(frames), keys=list(seeds), names=["seed"])


def mean_spread(long: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per row of the original tables: (mean, sample std) over seeds of the numeric columns.

    Args:
        long: `over_seeds`' result.

    Returns:
        Two tables indexed like one seed's table, rows in first-seen order. The std is NaN
        where only one seed had the row.
    """
    levels = list(long.index.names[1:])
    grouped = long.select_dtypes("number").groupby(level=levels, sort=False)
    return grouped.mean(), grouped.std(ddof=1)


def format_mean_spread(
    long: pd.DataFrame, float_format: str = "{:.3f}", first: pd.DataFrame | None = None
) -> pd.DataFrame:
    """A display table: 'mean ± std' strings for numeric columns (just the mean with one seed).

    Args:
        long: `over_seeds`' result.
        float_format: how each number is written.
        first: where non-numeric columns come from (default: the first seed's rows).

    Returns:
        A table of strings, indexed and ordered like one seed's table.
    """
    mean, std = mean_spread(long)
    seeds = long.index.get_level_values("seed").unique()
    first = long.xs(seeds[0], level="seed") if first is None else first
    shown = pd.DataFrame(index=mean.index)
    for column in long.columns:
        if column in mean.columns:
            shown[column] = [
                float_format.format(m) + ("" if pd.isna(s) else " ± " + float_format.format(s))
                for m, s in zip(mean[column], std[column], strict=True)
            ]
        else:
            shown[column] = first[column].reindex(mean.index).astype(str)
    return shown


def seeds_heading(seeds: Sequence[int]) -> str:
    """`Over N seeds (a, b, …)`: how a report's section over seeds starts."""
    return f"Over {len(seeds)} seeds ({', '.join(map(str, seeds))})"


def spread_table(frames: Sequence[pd.DataFrame], seeds: Sequence[int], csv_path: str) -> str:
    """Per-seed tables → their long CSV (every seed's rows) and a Markdown 'mean ± std' table.

    Args:
        frames: one table per seed (see `over_seeds`).
        seeds: the seed of each table.
        csv_path: where the long table is written.

    Returns:
        The Markdown table of `format_mean_spread`.
    """
    long = over_seeds(frames, seeds)
    write_csv(long, csv_path)
    return to_markdown(format_mean_spread(long))
