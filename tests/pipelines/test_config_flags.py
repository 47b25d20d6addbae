"""Configs as data: every preset field is a flag with help, flags override, config.json is written."""

from __future__ import annotations

import dataclasses
import importlib
import json

import pytest
from absl import flags
from absl.testing import flagsaver

from pipelines import adversarial_patch, badnets_regression, common, config_flags
from pipelines import main as pipeline_main

FLAGS = flags.FLAGS
CONFIGS = [
    type(importlib.import_module(module).PRESETS["demo"])
    for module in pipeline_main.PIPELINES.values()
]


@pytest.mark.parametrize("config_cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_settable_field_is_a_flag_with_help(config_cls):
    for field in dataclasses.fields(config_cls):
        assert field.metadata["help"], field.name
        if field.metadata["flag"]:
            assert field.name in FLAGS, field.name
            assert FLAGS[field.name].help, field.name
            if not field.metadata["allow_override"]:  # else another program may define it
                assert FLAGS[field.name].default is None  # only given flags override the preset


def test_given_flags_override_the_preset_and_lists_become_tuples():
    FLAGS.unparse_flags()
    FLAGS(["prog", "--filters=32", "--patch_areas=10,15", "--pooling=max"])
    try:
        config = config_flags.apply_overrides(adversarial_patch.PRESETS["demo"])
    finally:
        FLAGS.unparse_flags()
        FLAGS(["prog"])
    assert config.filters == 32 and config.pooling == "max"
    assert config.patch_areas == ("10", "15")  # validate() makes them floats
    assert adversarial_patch.validate(config).patch_areas == (10.0, 15.0)
    untouched = config_flags.apply_overrides(adversarial_patch.PRESETS["demo"])
    assert untouched == adversarial_patch.PRESETS["demo"]


def test_one_name_from_preset_to_component():
    # the patch victim's stem width: `filters` in the preset, the flag and the trainer
    from poison_tf.components.patch.patch_victim_trainer import PatchVictimTrainerSpec

    assert "filters" in PatchVictimTrainerSpec.PARAMETERS
    assert "filters" in {f.name for f in dataclasses.fields(adversarial_patch.PatchStudyConfig)}


def test_a_shared_name_keeps_one_type():
    @dataclasses.dataclass(frozen=True)
    class Clash:
        epochs: float = config_flags.setting(1.0, help="epochs as a float")

    with pytest.raises(TypeError, match="--epochs"):
        config_flags.define_config_flags(Clash)

    @dataclasses.dataclass(frozen=True)
    class NoHelp:
        epochs: int = 3

    with pytest.raises(TypeError, match="setting"):
        config_flags.define_config_flags(NoHelp)


def test_resolved_config_is_written_and_shown(tmp_path):
    with flagsaver.flagsaver(seed=5):
        FLAGS.mark_as_parsed()
        FLAGS["seed"].present = 1
        try:
            config = common.resolve_config(badnets_regression, "demo")
        finally:
            FLAGS["seed"].present = 0
    record = config_flags.config_record(config, badnets_regression.NAME, "demo")
    path = config_flags.write_config(record, str(tmp_path))
    written = json.loads(open(path).read())
    assert written["config"]["seed"] == 5 and written["preset"] == "demo"
    assert written["config"]["rates"] == [
        float(r) for r in badnets_regression.PRESETS["demo"].rates
    ]
    section = common.config_section(record)
    assert "## Configuration" in section and '"seed": 5' in section
