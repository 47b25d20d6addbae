"""Flags that shrink a study to seconds, shared by the pipeline tests and the runner tests."""

from __future__ import annotations

# badnets_regression: 64 + 16 rendered heads at 32 px, a quarter-width ResNet18, one epoch.
BADNETS_TINY_SIZES = [
    "--num_train=64",
    "--num_test=16",
    "--image_size=32",
    "--width=0.25",
    "--epochs=1",
    "--global_batch_size=16",
]
