"""Exact, deterministic choice of which examples to poison.

`round(rate * N)` examples (half rounds up) are drawn without replacement from a seeded
generator, so the same (N, rate, seed) always gives the same ids and the count is exact, which
is what makes poison-rate sweeps comparable across runs and machines.
"""

from __future__ import annotations

import math

import numpy as np

from poison_tf.errors import UserInputError


def poison_count(num_examples: int, rate: float) -> int:
    """round(rate * N), half up; `rate` is a fraction in (0, 1].

    Args:
        num_examples: N.
        rate: the fraction.

    Returns:
        The count.
    """
    return int(math.floor(rate * num_examples + 0.5))


def check_rate_percent(rate_percent: float, flag: str = "--rates") -> float:
    """Validates a poison rate given in percent and returns it as a fraction.

    Args:
        rate_percent: the rate in percent, in (0, 100].
        flag: the flag named in the error message.

    Returns:
        The rate as a fraction.

    Raises:
        UserInputError: NaN or outside (0, 100].
    """
    if not (0.0 < rate_percent <= 100.0) or math.isnan(rate_percent):
        raise UserInputError(
            f"{flag}: a poison rate must be in (0, 100] percent, got {rate_percent}"
        )
    return rate_percent / 100.0


def select_examples(
    candidate_ids: np.ndarray | int,
    rate: float,
    seed: int,
    num_examples: int | None = None,
) -> np.ndarray:
    """Sorted ids of round(rate * N) examples chosen from `candidate_ids` with `seed`.

    `candidate_ids` is either N (ids 0..N-1) or an array of eligible ids (e.g. the non-target
    examples of an all-to-one attack). `num_examples` is the N the rate refers to (the whole
    training set by default, i.e. the number of candidates).

    Args:
        candidate_ids: N, or the eligible ids.
        rate: the fraction of N to poison, in (0, 1].
        seed: the selection's seed.
        num_examples: N (default: the number of candidates).

    Returns:
        int64 sorted ids.

    Raises:
        UserInputError: a rate outside (0, 1], one that selects no example, or more examples
            than there are candidates.
    """
    if isinstance(candidate_ids, int | np.integer):
        candidate_ids = np.arange(int(candidate_ids), dtype=np.int64)
    candidate_ids = np.asarray(candidate_ids, np.int64)
    total = len(candidate_ids) if num_examples is None else num_examples
    if not 0.0 < rate <= 1.0:
        raise UserInputError(f"poison rate must be in (0, 1], got {rate}")
    count = poison_count(total, rate)
    if count == 0:
        raise UserInputError(
            f"a poison rate of {rate * 100:g}% of {total} examples selects no example; "
            "use a higher rate or more data"
        )
    if count > len(candidate_ids):
        raise UserInputError(
            f"a poison rate of {rate * 100:g}% needs {count} examples but only "
            f"{len(candidate_ids)} are eligible"
        )
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(candidate_ids), size=count, replace=False)
    return np.sort(candidate_ids[chosen])
