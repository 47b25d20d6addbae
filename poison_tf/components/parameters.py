"""Spec parameters that many components declare alike: their seed, tf.distribute strategy and
global batch size, an example generator's shards, a Grad-CAM layer, the attack a model carries,
the images of a segmentation figure or evaluation, and a report's title, settings and seeds.

One declaration each, so that the flag every stage program generates from them (`--seed`,
`--strategy`, `--title`, `--settings`, ...) reads the same everywhere.
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


def global_batch_size_parameter(default: int) -> ExecutionParameter:
    """The `global_batch_size` parameter of a component that runs a model under a strategy.

    Args:
        default: the component's default batch size.

    Returns:
        An int parameter.
    """
    return ExecutionParameter(
        int, default=default, help="global batch size (all replicas together)"
    )


def shards_parameter(default: int = 2) -> ExecutionParameter:
    """An example generator's `num_shards` parameter.

    Args:
        default: the generator's default shard count.

    Returns:
        An int parameter.
    """
    return ExecutionParameter(int, default=default, help="TFRecord shards per split")


def gradcam_layer_parameter() -> ExecutionParameter:
    """An explainer's Grad-CAM feature layer (resolved by `poison_tf.explain.gradcam.conv_layer_path`).

    Returns:
        A str parameter, empty (the model's last layer with a 4-D output) unless given.
    """
    return ExecutionParameter(str, default="", help="feature layer name; empty = last 4-D layer")


def backdoor_parameters() -> dict[str, ExecutionParameter]:
    """The attack a backdoored model carries, for the components that measure it.

    Returns:
        {"backdoor": the trigger's name, "target": the attack's target class}.
    """
    return {
        "backdoor": ExecutionParameter(
            str, default="", help="the trigger the model was poisoned with (its name in the report)"
        ),
        "target": ExecutionParameter(int, default=0, help="the attack's target class"),
    }


def max_instances_parameter() -> ExecutionParameter:
    """A segmentation component's cap on the instances it keeps per image.

    Returns:
        An int parameter, 100 unless given.
    """
    return ExecutionParameter(int, default=100, help="instances kept per image (largest first)")


def num_samples_parameter(default: int) -> ExecutionParameter:
    """A segmentation report's `num_samples`: the images of its prediction figure.

    Args:
        default: the report's default count.

    Returns:
        An int parameter.
    """
    return ExecutionParameter(int, default=default, help="images drawn in the prediction figure")


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
