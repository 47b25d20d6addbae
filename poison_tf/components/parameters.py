"""Spec parameters that many components declare alike: their seed and tf.distribute strategy,
and a report's title, settings paragraph and seeds.

One declaration each, so that the flag every stage program generates from them (`--seed`,
`--strategy`, `--title`, `--settings`) reads the same everywhere.
"""

from __future__ import annotations

from typing import Any

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


def settings_parameter(describes: str) -> ExecutionParameter:
    """A report's `settings` parameter: the Markdown paragraph the pipeline writes about its run.

    Args:
        describes: what the paragraph describes, e.g. "data and training".

    Returns:
        A str parameter, empty unless given.
    """
    return ExecutionParameter(str, default="", help=f"Markdown describing {describes}")


def report_parameters(title: str, describes: str) -> dict[str, ExecutionParameter]:
    """A report's `title` and `settings` parameters.

    Args:
        title: the report's default title.
        describes: what the settings paragraph describes (see `settings_parameter`).

    Returns:
        {"title": ..., "settings": ...}.
    """
    return {
        "title": ExecutionParameter(str, default=title, help="the report's title"),
        "settings": settings_parameter(describes),
    }


def seeds_parameter() -> ExecutionParameter:
    """A report's `seeds` parameter: which seed each metrics input ran with (`--seeds=N` runs).

    Returns:
        A str parameter (a JSON list), empty unless given.
    """
    return ExecutionParameter(
        str, default="", help="JSON list: the seed of each metrics input (--seeds=N runs)"
    )


def parameter_values(exec_properties: dict[str, Any], *names: str) -> dict[str, Any]:
    """The resolved values of the parameters `names`, keyed by name.

    For a constructor whose keyword arguments are named like the component's parameters: each
    such parameter is then named once (`Task(**parameter_values(p, "seed"))`), not twice
    (`Task(seed=p["seed"])`), and what is left spelled out is what a component renames or
    converts.

    Args:
        exec_properties: the component's resolved parameters.
        *names: the parameters to pass on.

    Returns:
        {name: value}.
    """
    return {name: exec_properties[name] for name in names}
