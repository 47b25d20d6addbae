"""Every parameter of every component has help text: it is what `--helpfull` prints.

Walks the whole `poison_tf.components` package rather than the stage registry, so a component
that no stage program lists (the benchmark's cell and report) is held to the same rule.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import poison_tf.components
from poison_tf.dag.component import BaseComponent


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def all_components() -> list[type[BaseComponent]]:
    """Every BaseComponent subclass defined under poison_tf.components."""
    for module in pkgutil.walk_packages(
        poison_tf.components.__path__, poison_tf.components.__name__ + "."
    ):
        importlib.import_module(module.name)
    return sorted(
        {c for c in _subclasses(BaseComponent) if c.__module__.startswith("poison_tf.components.")},
        key=lambda c: c.__name__,
    )


COMPONENTS = all_components()


def test_the_walk_finds_every_study_s_components():
    names = {c.__name__ for c in COMPONENTS}
    assert len(COMPONENTS) >= 27
    assert {"BenchmarkCell", "BenchmarkReport", "PatchOptimizer", "SegTrainer"} <= names


@pytest.mark.parametrize("cls", COMPONENTS, ids=lambda c: c.__name__)
def test_every_parameter_has_help(cls):
    blank = {n for n, p in cls.SPEC_CLASS.PARAMETERS.items() if not (p.help or "").strip()}
    assert blank == set()
