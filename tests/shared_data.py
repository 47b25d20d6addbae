"""Where the shared real data lives (../shared beside the checkout), for tests that read it.

A module of its own rather than `conftest`: pytest keeps one `conftest` module name per
session, and tests/hackml has its own conftest, so `from conftest import ...` is ambiguous.
"""

from __future__ import annotations

import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def shared_path(*parts: str) -> pathlib.Path:
    """A path under ../shared, skipping the calling test when it does not exist."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path
