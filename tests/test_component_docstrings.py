"""Components' docstrings, checked at run time: each names its whole spec.

A component's class docstring holds only what a person must say (its summary, why and what it
does); `BaseComponent.__init_subclass__` appends `Args:` and `Outputs:` sections generated from
its spec (`poison_tf.dag.component_doc`). So `test_docstrings.py`'s walk of the source does not
see them: this reads each component's runtime `__doc__` instead, which must name every input
channel (its type, optional or not), every parameter (its type, help text and default, or
"(required)") in the spec's order, and every output.
"""

from __future__ import annotations

import inspect
import re

import pytest
from component_classes import all_components

COMPONENTS = all_components()


def args_entries(doc: str) -> dict[str, str]:
    """{name: text} of the entries of a docstring's `Args:` section (continuation lines joined).

    Args:
        doc: a cleaned docstring (`inspect.getdoc`).

    Returns:
        One item per entry, in order; the text is what follows the name (e.g. "(int): ... .").
    """
    section = doc.split("\nArgs:\n", 1)[1].split("\n\n", 1)[0]
    entries: dict[str, str] = {}
    name = ""
    for line in section.splitlines():
        match = re.match(r"    (\w+)(.*)", line)
        if match and not line.startswith("        "):
            name = match.group(1)
            entries[name] = match.group(2)
        else:
            entries[name] += " " + line.strip()
    return entries


def outputs_line(doc: str) -> str:
    """The `Outputs:` section of a docstring, on one line.

    Args:
        doc: a cleaned docstring.

    Returns:
        The section's text.
    """
    return " ".join(doc.split("\nOutputs: ", 1)[1].split())


def spec_gaps(cls) -> list[str]:
    """What a component's runtime docstring says wrong or not at all about its spec.

    Args:
        cls: a `BaseComponent` subclass.

    Returns:
        One line per gap: a missing or extra entry, a wrong type or default, a missing output.
    """
    spec, doc = cls.SPEC_CLASS, inspect.getdoc(cls) or ""
    if "\nArgs:\n" not in doc or "\nOutputs: " not in doc:
        return ["no generated Args:/Outputs: sections"]
    gaps = []
    if doc.startswith("Args:"):
        gaps.append("no hand-written summary")
    entries = args_entries(doc)
    expected = ["instance_name", *spec.INPUTS, *spec.PARAMETERS]
    if list(entries) != expected:
        gaps.append(f"entries {list(entries)} != {expected}")
    for name, channel in spec.INPUTS.items():
        kind = "optional input" if channel.optional else "input"
        if not entries.get(name, "").startswith(f": {kind} channel of `{channel.type_name}`"):
            gaps.append(f"input {name}: {entries.get(name)!r}")
    for name, parameter in spec.PARAMETERS.items():
        text = entries.get(name, "")
        has_default = parameter.default is not None or parameter.optional
        default = f"(default {parameter.default!r})." if has_default else "(required)."
        if not text.startswith(f" ({parameter.type.__name__}") or not text.endswith(default):
            gaps.append(f"parameter {name}: {text!r} lacks its type or {default}")
        if " ".join(parameter.help.split()).rstrip(".") not in text:
            gaps.append(f"parameter {name}: {text!r} lacks its help text")
    outputs = outputs_line(doc)
    for key, channel in spec.OUTPUTS.items():
        if f"`{key}` ({channel.type_name}" not in outputs:
            gaps.append(f"output {key}: not in {outputs!r}")
    return gaps


def test_the_component_walk_finds_the_components():
    assert len(COMPONENTS) >= 27


@pytest.mark.parametrize("cls", COMPONENTS, ids=lambda c: c.__name__)
def test_component_docstring_names_its_whole_spec(cls):
    """Every input, parameter (type, help text, default) and output, in the spec's order."""
    assert spec_gaps(cls) == []
