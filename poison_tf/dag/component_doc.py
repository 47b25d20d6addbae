"""The `Args:` and `Outputs:` sections of a component's docstring, written from its spec.

A component's class docstring holds only what a person must say: its summary and the paragraphs
on why and what it does. `BaseComponent.__init_subclass__` appends these two sections when the
class is created, so `help(Component)`, `Component.__doc__` and IDEs list the spec's real input
channels (type, optional or not), parameters (type, help text, default) and outputs, and a
parameter added to a spec can no longer be missing from its documentation.
"""

from __future__ import annotations

import inspect
import re
import textwrap

from poison_tf.dag.spec import ChannelParameter, ComponentSpec, ExecutionParameter

WIDTH = 96  # help() indents a class's docstring by 4: lines stay within 100 columns
INSTANCE_NAME = "tells two uses of the component in one pipeline apart."
GENERATED = ("Args:", "Outputs:")
GLUE = "\u00a0"  # a space textwrap does not break at: "(default" stays with its value


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."


def _wrap(text: str, indent: str, more: str) -> list[str]:
    lines = textwrap.wrap(
        text,
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + more,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line.replace(GLUE, " ") for line in lines]


def input_text(channel: ChannelParameter) -> str:
    """'optional input channel of `Patch` artefacts: <its help>.' for one input of a spec.

    Args:
        channel: the spec's entry for the input.

    Returns:
        The text after the input's name in `Args:`.
    """
    text = f"input channel of `{channel.type_name}` artefacts"
    text = ("optional " if channel.optional else "") + text
    return _sentence(f"{text}: {channel.help}" if channel.help else text)


def parameter_text(parameter: ExecutionParameter) -> str:
    """'<help text> (default <value>).' for one parameter; '(required)' when it has no default.

    Args:
        parameter: the spec's entry for the parameter.

    Returns:
        The text after the parameter's name and type in `Args:`.
    """
    if parameter.default is not None or parameter.optional:
        default = f"(default{GLUE}{parameter.default!r})"
    else:
        default = "(required)"
    return _sentence(f"{parameter.help.strip().rstrip('.')} {default}".strip())


def parameter_type(parameter: ExecutionParameter) -> str:
    """The parameter's type as Google style writes it after the name: `int`, `str | None`.

    Args:
        parameter: the spec's entry for the parameter.

    Returns:
        The type's name, with `| None` when None is an allowed value.
    """
    return parameter.type.__name__ + (" | None" if parameter.optional else "")


def spec_sections(spec: type[ComponentSpec]) -> str:
    """The `Args:` and `Outputs:` sections of a component of `spec`, in Google style.

    Args:
        spec: the component's `SPEC_CLASS`.

    Returns:
        `Args:` (instance_name, each input channel, each parameter) and an `Outputs:` line, with
        no leading indentation.
    """
    lines = ["Args:", *_wrap(f"instance_name: {INSTANCE_NAME}", "    ", "    ")]
    for name, channel in spec.INPUTS.items():
        lines += _wrap(f"{name}: {input_text(channel)}", "    ", "    ")
    for name, parameter in spec.PARAMETERS.items():
        entry = f"{name} ({parameter_type(parameter)}): {parameter_text(parameter)}"
        lines += _wrap(entry, "    ", "    ")
    outputs = [
        f"`{key}` ({channel.type_name}: {channel.help.strip().rstrip('.')})"
        if channel.help
        else f"`{key}` ({channel.type_name})"
        for key, channel in spec.OUTPUTS.items()
    ]
    lines += ["", *_wrap(f"Outputs: {', '.join(outputs) or 'none'}.", "", "    ")]
    return "\n".join(lines)


def component_doc(name: str, written: str | None, spec: type[ComponentSpec]) -> str:
    """A component's docstring: the hand-written part, then the sections made from its spec.

    Args:
        name: the component class's name (for the error).
        written: the class's own docstring (None when it has none).
        spec: its `SPEC_CLASS`.

    Returns:
        The full docstring, with no leading indentation (as `inspect.cleandoc` leaves it).

    Raises:
        TypeError: the hand-written docstring has its own `Args:` or `Outputs:` section.
    """
    own = inspect.cleandoc(written or "")
    for heading in GENERATED:
        if re.search(rf"^\s*{heading}", own, re.MULTILINE):
            raise TypeError(
                f"{name}: the docstring's {heading} section is generated from SPEC_CLASS; "
                "write the help text on the spec's entries instead"
            )
    sections = spec_sections(spec)
    return f"{own}\n\n{sections}" if own else sections
