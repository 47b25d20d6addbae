"""Every parameter of every component has help text: it is what `--helpfull` prints, and what
the component's generated docstring (`poison_tf.dag.component_doc`) says about the parameter.
"""

from __future__ import annotations

import pytest
from component_classes import all_components

COMPONENTS = all_components()


def test_the_walk_finds_every_study_s_components():
    names = {c.__name__ for c in COMPONENTS}
    assert len(COMPONENTS) >= 27
    assert {"BenchmarkCell", "BenchmarkReport", "PatchOptimizer", "SegTrainer"} <= names


@pytest.mark.parametrize("cls", COMPONENTS, ids=lambda c: c.__name__)
def test_every_parameter_has_help(cls):
    blank = {n for n, p in cls.SPEC_CLASS.PARAMETERS.items() if not (p.help or "").strip()}
    assert blank == set()
