"""Every `BaseComponent` subclass of `poison_tf.components`, for tests that hold them all to a rule.

Walks the whole package rather than the stage registry, so a component that no stage program
lists (the benchmark's cell and report) is held to the same rules. A module of its own (like
`shared_data`) because tests in several folders use it.
"""

from __future__ import annotations

import importlib
import pkgutil

import poison_tf.components
from poison_tf.dag.component import BaseComponent


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def all_components() -> list[type[BaseComponent]]:
    """Every BaseComponent subclass defined under poison_tf.components, by name."""
    for module in pkgutil.walk_packages(
        poison_tf.components.__path__, poison_tf.components.__name__ + "."
    ):
        importlib.import_module(module.name)
    return sorted(
        {c for c in _subclasses(BaseComponent) if c.__module__.startswith("poison_tf.components.")},
        key=lambda c: c.__name__,
    )
