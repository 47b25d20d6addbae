"""The machinery of `poison-tf-<stage>` programs: flags made from component specs, one run.

A stage is a set of components a user picks from with `--component` (the first is the
default). The flags of a stage are made from its components' specs: one list flag per input
channel (artefact URIs) and one flag per parameter, with the parameter's `help` text (only the
flags given are passed; the rest keep the spec's default). They are defined when the program
starts rather than at import time because each program carries the flags of its own stage only.
The program prints the output artefacts as JSON on stdout (progress goes to stderr).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from typing import Any

from absl import flags

from poison_tf import cli
from poison_tf.dag import remote_fs
from poison_tf.dag.component import BaseComponent
from poison_tf.errors import UserInputError
from poison_tf.io.flag_ranges import check_values
from poison_tf.io.safe_read import check_output_dir

FLAGS = flags.FLAGS

_DEFINE = {
    bool: flags.DEFINE_bool,
    int: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    str: flags.DEFINE_string,
}


def define_stage_flags(
    stage: str, components: dict[str, type[BaseComponent]], aliases: dict[str, str] | None = None
) -> None:
    """Defines --component, --output_dir, one list flag per input and one flag per parameter.

    Args:
        stage: the stage's name (in help texts and errors).
        components: `--component` value → component class; the first is the default.
        aliases: older `--component` values still accepted → the value they stand for.

    Raises:
        TypeError: two components of the stage give one parameter name two types.
    """
    names = list(components) + list(aliases or {})
    flags.DEFINE_enum(
        "component", next(iter(components)), names, f"Which {stage} component to run."
    )
    flags.DEFINE_string(
        "output_dir", None, "Folder that receives <component id>/<fingerprint>/ outputs."
    )
    defined: dict[str, type] = {}
    for cls in components.values():
        spec = cls.SPEC_CLASS
        for key in spec.INPUTS:
            if key not in defined:
                flags.DEFINE_list(key, None, f"Input artefact URI(s) for {key!r}.")
                defined[key] = list
        for name, parameter in spec.PARAMETERS.items():
            if name in defined:
                if defined[name] is not parameter.type:
                    raise TypeError(f"stage {stage}: parameter {name!r} has two types")
                continue
            default = f" (default {parameter.default!r})" if parameter.default is not None else ""
            _DEFINE[parameter.type](name, None, (parameter.help or name) + default)
            defined[name] = parameter.type


def run_stage(
    cls: type[BaseComponent], prepare: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, str]:
    """Runs component `cls` from the parsed flags.

    Args:
        cls: the component chosen with `--component`.
        prepare: called with the given parameters before anything runs (e.g. to create a
            distribution strategy that must exist before any other TensorFlow op).

    Returns:
        Output key → URI of the written (or cached) artefact.

    Raises:
        UserInputError: a missing `--output_dir` or required input flag.
    """
    spec = cls.SPEC_CLASS
    remote_fs.require_local_output_dir(FLAGS.output_dir, "a stage program", "for whole studies")
    check_output_dir(FLAGS.output_dir, "--output_dir")
    inputs = {}
    for key, channel in spec.INPUTS.items():
        uris = FLAGS[key].value
        if not uris:
            if not channel.optional:
                raise UserInputError(f"--{key} is required (URI of a {channel.type_name} artefact)")
            continue
        inputs[key] = uris
    params = {name: FLAGS[name].value for name in spec.PARAMETERS if FLAGS[name].present}
    check_values(params, {name: p.default for name, p in spec.PARAMETERS.items()})
    if prepare is not None:
        prepare(params)
    outputs = cls.run_standalone(inputs, params, FLAGS.output_dir)
    return {key: artifact.uri for key, artifact in outputs.items()}


def run_program(
    stage: str,
    components: dict[str, type[BaseComponent]],
    aliases: dict[str, str] | None = None,
    prepare: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """The whole `poison-tf-<stage>` program: defines the flags, parses argv, runs, prints JSON.

    Args:
        stage: the stage's name.
        components: `--component` value → component class (the first is the default).
        aliases: older `--component` values → current ones.
        prepare: see `run_stage`.
    """
    define_stage_flags(stage, components, aliases)

    def main(argv: list[str]) -> None:
        if len(argv) > 1:
            raise UserInputError(f"unexpected arguments {argv[1:]}")
        name = (aliases or {}).get(FLAGS.component, FLAGS.component)
        with contextlib.redirect_stdout(sys.stderr):  # progress bars must not mix with the JSON
            outputs = run_stage(components[name], prepare)
        print(json.dumps(outputs, indent=2))

    cli.run(main, argv=sys.argv)
