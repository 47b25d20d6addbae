"""Presets as data: the TOML tables become config dataclasses, and a typo fails loudly."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from pipelines import main as pipeline_main
from pipelines.preset_files import build_config, preset_path


@dataclasses.dataclass(frozen=True)
class Tiny:
    rates: tuple = (1.0,)
    epochs: int = 3
    params: dict = dataclasses.field(default_factory=dict)


def test_a_table_replaces_only_its_fields_and_lists_become_tuples():
    config = build_config(Tiny, {"rates": [5.0, 2.0], "params": {"nc": {"epochs": 2}}}, "x")
    assert config == Tiny(rates=(5.0, 2.0), epochs=3, params={"nc": {"epochs": 2}})


def test_an_unknown_key_names_the_file_and_the_key():
    with pytest.raises(ValueError, match=r"tiny\.toml: preset 'demo'.*'epoch'"):
        build_config(Tiny, {"epoch": 2}, "tiny.toml: preset 'demo'")


@pytest.mark.parametrize("module", sorted(set(pipeline_main.PIPELINES.values())))
def test_every_pipeline_reads_its_presets_file(module):
    pipeline = importlib.import_module(module)
    assert preset_path(pipeline.NAME).is_file()
    assert "demo" in pipeline.PRESETS
    config_cls = type(pipeline.PRESETS["demo"])
    assert all(type(config) is config_cls for config in pipeline.PRESETS.values())
