"""What each numeric or list setting may hold, checked once for presets and stage flags alike.

Why: `--epochs=0`, a NaN learning rate, `--global_batch_size=0`, an empty `--rates`, a negative
seed or a 100000-pixel image size used to be accepted and fail late (a traceback deep in
training, an empty report) or, worse, succeed with nonsense. The pipelines' presets and the
stage programs' parameters use the same names, so one table of rules serves both: a pipeline
checks its whole config after the command-line overrides are applied, a stage program checks
the parameters it was given. Names absent from the table are left to their own validation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from poison_tf.errors import UserInputError

MAX_IMAGE_SIZE = 4096  # pixels per side; anything larger would not fit a training batch
MIN_IMAGE_SIZE = 8
MAX_SEED = 2**32 - 1  # numpy's SeedSequence and TF both take 32-bit-range seeds

Rule = Callable[[Any], str | None]  # a value -> what is wrong with it, or None


def _int_at_least(low: int, high: int | None = None) -> Rule:
    def rule(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if value < low:
            return f"must be at least {low}"
        if high is not None and value > high:
            return f"must be at most {high}"
        return None

    return rule


def _positive_rate(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_empty(value: Any) -> str | None:
    return None if len(value) else "needs at least one item"


RULES: dict[str, Rule] = {
    **{
        name: _int_at_least(1)
        for name in (
            "epochs", "global_batch_size", "batch_size", "num_train", "num_test", "num_val",
            "patch_steps", "patch_batch_size",
            "patch_cells", "max_instances", "num_shards", "num_classes",
        )
    },
    **{
        name: _int_at_least(0)
        for name in (
            "max_train", "max_test", "checkpoint_every_steps", "num_tsne_pairs",
            "num_identities",  # 0 = every identity (lfw)
            "images_per_identity",  # 0 = every image (lfw)
            "optimise_images", "eval_images", "explain_images",
        )
    },
    "seed": _int_at_least(0, MAX_SEED),
    "image_size": _int_at_least(MIN_IMAGE_SIZE, MAX_IMAGE_SIZE),
    "learning_rate": _positive_rate,
    "patch_learning_rate": _positive_rate,
    "width": _positive_rate,
    "warmup_epochs": lambda value: None if value >= 0 else "must be at least 0",
    **{name: _non_empty for name in ("rates", "triggers", "detectors", "patch_areas")},
}  # fmt: skip


def check_values(values: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> None:
    """Raises one `UserInputError` naming the first setting (as its flag) that is out of range.

    Args:
        values: setting name -> value (a preset's fields, or a stage's given parameters).
        defaults: the same names' defaults; a default of 0 for a rate means "choose for me"
            (Ultralytics' automatic learning rate), so 0 is accepted there.
    """
    defaults = defaults or {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise UserInputError(f"--{name}={value}: must be a finite number")
        rule = RULES.get(name)
        if rule is None:
            continue
        if name.endswith("learning_rate") and value == 0 and defaults.get(name) == 0:
            continue
        problem = rule(value)
        if problem:
            shown = ",".join(str(v) for v in value) if isinstance(value, list | tuple) else value
            raise UserInputError(f"--{name}={shown}: {problem}")


def check_config(config: Any) -> Any:
    """`check_values` over a preset dataclass (defaults from its fields); returns `config`."""
    import dataclasses

    fields = dataclasses.fields(config)
    check_values(
        {f.name: getattr(config, f.name) for f in fields},
        {f.name: f.default for f in fields if f.default is not dataclasses.MISSING},
    )
    return config
