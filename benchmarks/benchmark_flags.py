"""The flags that mean the same in every benchmark that has them: `--repeats` and `--seed`.

`--repeats` is how many times each compared side is timed, turn by turn, with the median on the
result line (a median resists a burst of load on a shared host, which one long run does not);
`--seed` fixes everything random a benchmark makes (its synthetic data, weights, selections),
so two runs time the same work. Declared here once, each benchmark only says what one repeat is
or what the seed covers.
"""

from __future__ import annotations

from absl import flags


def define_repeats(default: int, each: str) -> None:
    """Defines `--repeats`.

    Args:
        default: the benchmark's default count.
        each: what is repeated, e.g. "Timed passes per pipeline".
    """
    flags.DEFINE_integer("repeats", default, f"{each} (median reported).")


def define_seed(default: int, of: str) -> None:
    """Defines `--seed`.

    Args:
        default: the benchmark's default seed.
        of: what it seeds, e.g. "the synthetic data".
    """
    flags.DEFINE_integer("seed", default, f"Seed of {of}.")
