"""BackdoorBench's published leaderboard rows that our benchmark table is printed beside.

From `static/data/results.csv` of backdoorbench/backdoorbench.github.io @ b98eab4 (2025-06-04),
the data behind https://backdoorbench.github.io: dataset `cifar10`, backbone `preactresnet18`
(full width, 100 epochs, their training), poison ratio 0.1 and 0.01, target 0. Keys are
(attack, rate in percent, defence) with BackdoorBench's defence names (`no defense` → "none",
`spectral`, `ac`, `nc`, `abl`); values (C-Acc, ASR, RA) in percent. BadNets, no defence, 10 %:
91.32 / 95.03 / 4.67, the numbers their README quotes.
"""

from __future__ import annotations

PUBLISHED: dict[tuple[str, float, str], tuple[float, float, float]] = {
    ("badnet", 10, "abl"): (83.32, 0.00, 89.02),
    ("badnet", 10, "ac"): (88.80, 86.23, 13.28),
    ("badnet", 10, "nc"): (89.05, 1.27, 89.16),
    ("badnet", 10, "none"): (91.32, 95.03, 4.67),
    ("badnet", 10, "spectral"): (89.98, 92.41, 7.20),
    ("badnet", 1, "abl"): (72.81, 53.20, 41.31),
    ("badnet", 1, "ac"): (88.88, 27.18, 68.14),
    ("badnet", 1, "nc"): (91.64, 0.88, 91.68),
    ("badnet", 1, "none"): (93.14, 74.73, 24.24),
    ("badnet", 1, "spectral"): (92.62, 74.20, 24.88),
    ("blended", 10, "abl"): (77.30, 0.73, 64.52),
    ("blended", 10, "ac"): (88.52, 99.72, 0.28),
    ("blended", 10, "nc"): (93.47, 99.92, 0.08),
    ("blended", 10, "none"): (93.47, 99.92, 0.08),
    ("blended", 10, "spectral"): (90.35, 99.84, 0.14),
    ("blended", 1, "abl"): (66.26, 0.17, 34.91),
    ("blended", 1, "ac"): (89.77, 86.09, 12.67),
    ("blended", 1, "nc"): (90.98, 65.91, 29.24),
    ("blended", 1, "none"): (93.76, 94.88, 4.79),
    ("blended", 1, "spectral"): (93.27, 93.32, 6.28),
    ("sig", 10, "abl"): (57.80, 0.00, 59.97),
    ("sig", 10, "ac"): (82.41, 94.61, 5.17),
    ("sig", 10, "nc"): (84.48, 98.27, 1.72),
    ("sig", 10, "none"): (84.48, 98.27, 1.72),
    ("sig", 10, "spectral"): (83.01, 92.27, 7.40),
    ("sig", 1, "abl"): (64.33, 0.00, 20.51),
    ("sig", 1, "ac"): (90.00, 74.81, 18.61),
    ("sig", 1, "nc"): (93.82, 83.40, 14.29),
    ("sig", 1, "none"): (93.82, 83.40, 14.29),
    ("sig", 1, "spectral"): (93.09, 85.91, 12.12),
    ("wanet", 10, "abl"): (83.19, 0.00, 85.86),
    ("wanet", 10, "ac"): (91.93, 96.80, 3.06),
    ("wanet", 10, "nc"): (91.80, 7.53, 85.09),
    ("wanet", 10, "none"): (91.25, 89.73, 9.76),
    ("wanet", 10, "spectral"): (91.94, 90.17, 9.37),
    ("wanet", 1, "abl"): (65.43, 53.43, 37.98),
    ("wanet", 1, "ac"): (89.53, 4.87, 84.87),
    ("wanet", 1, "nc"): (90.65, 12.66, 79.92),
    ("wanet", 1, "none"): (90.65, 12.63, 79.94),
    ("wanet", 1, "spectral"): (92.79, 8.81, 84.56),
}
SOURCE = "backdoorbench.github.io results.csv @ b98eab4 (CIFAR-10, PreAct-ResNet18)"


def published(attack: str, rate_percent: float, defence: str) -> tuple[float, float, float] | None:
    """(C-Acc, ASR, RA) in percent, or None where BackdoorBench has no such row.

    Args:
        attack: a BackdoorBench attack name.
        rate_percent: the poison rate in percent.
        defence: a defence name ("none" for no defence).

    Returns:
        The published row, or None.
    """
    return PUBLISHED.get((attack, float(rate_percent), defence))
