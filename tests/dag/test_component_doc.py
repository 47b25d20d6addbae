"""A component's `Args:` and `Outputs:` docstring sections are generated from its spec."""

from __future__ import annotations

import inspect
import pydoc

import pytest

from poison_tf.dag.component import BaseComponent
from poison_tf.dag.spec import ChannelParameter, ComponentSpec, ExecutionParameter


class FakeSpec(ComponentSpec):
    INPUTS = {
        "examples": ChannelParameter("Examples"),
        "plan": ChannelParameter("PoisonPlan", optional=True, help="the plan to apply"),
    }
    OUTPUTS = {
        "model": ChannelParameter("Model"),
        "metrics": ChannelParameter("Metrics", help="metrics.json and a PNG"),
    }
    PARAMETERS = {
        "trigger": ExecutionParameter(str, help="checkerboard | point"),
        "rate": ExecutionParameter(float, default=0.1, help="poisoned share."),
        "limit": ExecutionParameter(int, optional=True, help="at most this many (None: all)"),
        "flip": ExecutionParameter(bool, default=False, help="random left-right flips"),
        "title": ExecutionParameter(
            str,
            default="A long report title that does not fit on the line",
            help="the report's title, a help text long enough to be wrapped by the generator",
        ),
    }


class Fake(BaseComponent):
    """Examples (+ a plan) → a model.

    Why it exists, in a paragraph of its own.
    """

    SPEC_CLASS = FakeSpec


EXPECTED = """Examples (+ a plan) → a model.

Why it exists, in a paragraph of its own.

Args:
    instance_name: tells two uses of the component in one pipeline apart.
    examples: input channel of `Examples` artefacts.
    plan: optional input channel of `PoisonPlan` artefacts: the plan to apply.
    trigger (str): checkerboard | point (required).
    rate (float): poisoned share (default 0.1).
    limit (int | None): at most this many (None: all) (default None).
    flip (bool): random left-right flips (default False).
    title (str): the report's title, a help text long enough to be wrapped by the generator
        (default 'A long report title that does not fit on the line').

Outputs: `model` (Model), `metrics` (Metrics: metrics.json and a PNG)."""


def test_the_docstring_is_the_written_part_then_the_spec_s_sections():
    assert Fake.__doc__ == EXPECTED


def test_help_and_getdoc_show_the_generated_sections():
    assert inspect.getdoc(Fake) == EXPECTED
    shown = pydoc.render_doc(Fake, renderer=pydoc.plaintext)
    assert "rate (float): poisoned share (default 0.1)." in shown


def test_a_component_without_a_docstring_still_lists_its_spec():
    class Bare(BaseComponent):
        SPEC_CLASS = FakeSpec

    assert Bare.__doc__ == EXPECTED.split("\n\n", 2)[2]


def test_a_subclass_documents_its_own_spec():
    class MoreSpec(FakeSpec):
        PARAMETERS = {**FakeSpec.PARAMETERS, "epochs": ExecutionParameter(int, default=3)}

    class More(Fake):
        """More epochs."""

        SPEC_CLASS = MoreSpec

    assert More.__doc__.startswith("More epochs.\n\nArgs:\n")
    assert "    epochs (int): (default 3).\n" in More.__doc__
    assert Fake.__doc__ == EXPECTED


@pytest.mark.parametrize("section", ["Args:", "Outputs:"])
def test_a_hand_written_section_is_refused(section):
    with pytest.raises(TypeError, match=f"Handwritten: the docstring's {section} section"):

        class Handwritten(BaseComponent):
            __doc__ = f"Summary.\n\n    {section}\n        x: stale.\n    "
            SPEC_CLASS = FakeSpec
