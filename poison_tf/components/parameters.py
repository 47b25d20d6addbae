"""Spec parameters that many components declare alike: their seed and tf.distribute strategy.

One declaration each, so that the flag every stage program generates from them (`--seed`,
`--strategy`) reads the same everywhere.
"""

from __future__ import annotations

from poison_tf.dag.spec import ExecutionParameter

SEED_HELP = "random seed of this component (data order, sampling, initialisation)"
STRATEGY_HELP = "tf.distribute strategy: default | mirrored | multi_worker | tpu"


def seed_parameter(default: int = 0) -> ExecutionParameter:
    """The `seed` parameter.

    Args:
        default: the component's default seed.

    Returns:
        An int parameter with SEED_HELP.
    """
    return ExecutionParameter(int, default=default, help=SEED_HELP)


def strategy_parameter() -> ExecutionParameter:
    """The `strategy` parameter (resolved by `poison_tf.train.strategy.resolve_strategy`).

    Returns:
        A str parameter, "default" unless given.
    """
    return ExecutionParameter(str, default="default", help=STRATEGY_HELP)
