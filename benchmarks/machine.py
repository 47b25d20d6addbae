"""The machine a benchmark ran on, as the first words of its result line.

A ratio measured on a shared 2-core host means little without the cores and the load it ran
under, so every benchmark's result line starts the same way: `machine: <this>; ...`.
"""

from __future__ import annotations

import os


def machine(gpus: int | None = None, load_values: int = 1) -> str:
    """`N CPU cores[, G GPU], load average a[ b c]`.

    Args:
        gpus: the GPUs the run saw (None: not said, for benchmarks that never use one).
        load_values: 1 (the last minute's load) or 3 (1, 5 and 15 minutes).

    Returns:
        The text, loads to one decimal.
    """
    load = " ".join(f"{value:.1f}" for value in os.getloadavg()[:load_values])
    gpu = "" if gpus is None else f", {gpus} GPU"
    return f"{os.cpu_count()} CPU cores{gpu}, load average {load}"
