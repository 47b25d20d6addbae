"""Configs as data: a study's preset is a dataclass, and its flags are made from the fields.

Each field is declared with `setting(default, help=...)`; `define_config_flags(Config)` then
defines one flag per field, named as the field, with its help text (what `--helpfull`
prints), so a setting has one name from the preset through the component to the task. Flags
default to None: only the flags given on the command line override the preset
(`apply_overrides`). Studies share names (`--epochs`, `--seed`, `--source`); a shared name is
defined once, by the first study that declares it, and must keep one type everywhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from typing import Any

from absl import flags

from poison_tf.io.atomic import write_json

FLAGS = flags.FLAGS
CONFIG_FILE = "config.json"

# Help texts of the settings several studies share (a shared flag is defined once).
DEFENCES_HELP = (
    "Defences to run: backdoor_benchmark from spectral,ac,nc,abl; backdoor_detection (on each "
    "model) from spectral,ac,nc."
)
SOURCE_HELP = (
    "Data source: synthetic (each study's generator) or <kind>:<path>; head pose: pandora:, "
    "biwi:, aflw2000:, csv:, opal23:; faces: hackml:, lfw:; patch: npz:, folder:; "
    "segmentation: yolo:<data.yaml>, coco:<json>:<dir>."
)
EPOCHS_HELP = "Training epochs of the study's models."
BATCH_HELP = "Global batch size of the training (all replicas together)."
LR_HELP = "Learning rate of the training."
SEED_HELP = "Seed of data generation, splits, poisoning and training."
SEEDS_HELP = (
    "Run the seed-dependent components N times (seeds seed, seed+1, ...); the report gives"
    " mean ± std over them."
)
IMAGE_SIZE_HELP = "Image side in pixels (examples and model input)."
NUM_TRAIN_HELP = "Synthetic source: number of training images."
NUM_TEST_HELP = "Synthetic source: number of test images."
LR_DECAY_HELP = "Learning-rate decay over the run (after any warm-up)."
LR_DECAYS = ("constant", "cosine", "linear")
TRIGGERS_HELP = (
    "Triggers, one backdoored model each: checkerboard,point,random (head pose) or "
    "sunglasses,lipstick,eyebrows (faces)."
)
TARGET_CLASS_HELP = "Target class id of the attack (-1 = untargeted)."
DEFENCE_PARAMS_HELP = "{defence: {keyword: value}} (preset only)."
AUGMENT_HELP = "Train with flips, HSV, scale and translate augmentation."
NUM_CLASSES_HELP = "Synthetic source: number of classes."
MAX_TRAIN_HELP = "Real data: keep at most N training images (0 = all)."
MAX_TEST_HELP = "Real data: keep at most N test images (0 = all)."
RATES_HELP = "Poison rates in percent of the training set, e.g. 50,20,10."


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,  # noqa: A002 (absl's name)
    choices: tuple[str, ...] | None = None,
    flag: bool = True,
    default_factory: Any = dataclasses.MISSING,
    allow_override: bool = False,
) -> Any:
    """A config field with the help text and choices of its flag.

    Args:
        default: the field's default (the preset can change it).
        help: the flag's help text.
        choices: allowed string values (an enum flag).
        flag: False for a field that is not settable from the command line.
        default_factory: as in `dataclasses.field`.
        allow_override: the name is also a flag of another program that can share the process
            (a test session), with the same meaning; absl then allows both definitions.

    Returns:
        A `dataclasses.field`.
    """
    metadata = {"help": help, "choices": choices, "flag": flag, "allow_override": allow_override}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _flag_type(hint: Any) -> type:
    """bool / int / float / str / tuple from a field's annotation (`str | None` → str)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0]
    origin = typing.get_origin(hint) or hint
    if origin in (tuple, list):
        return tuple
    if origin in (bool, int, float, str, dict):
        return origin
    raise TypeError(f"no flag type for {hint!r}")


def define_config_flags(config_cls: type) -> list[str]:
    """Defines a flag for every settable field of `config_cls` (once per name).

    Args:
        config_cls: a dataclass whose fields come from `setting`.

    Returns:
        The names of the fields that are flags.

    Raises:
        TypeError: a field without help text, or a name defined before with another type.
    """
    hints = typing.get_type_hints(config_cls)
    names = []
    for field in dataclasses.fields(config_cls):
        meta = field.metadata
        if not meta.get("flag", False):
            if "help" not in meta:
                raise TypeError(f"{config_cls.__name__}.{field.name}: declare it with setting()")
            continue
        kind = _flag_type(hints[field.name])
        names.append(field.name)
        if field.name in FLAGS:
            defined = _DEFINED.get(field.name)
            if defined is not None and defined != kind:
                raise TypeError(
                    f"flag --{field.name}: {kind.__name__} here, {defined.__name__} before"
                )
            continue
        _DEFINED[field.name] = kind
        args = (field.name, None)
        extra = {"allow_override": True} if meta.get("allow_override") else {}
        if meta.get("choices"):
            flags.DEFINE_enum(*args, list(meta["choices"]), meta["help"], **extra)
        else:
            _DEFINE[kind](*args, meta["help"], **extra)
    return names


_DEFINED: dict[str, type] = {}
_DEFINE = {
    bool: flags.DEFINE_bool,
    int: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    tuple: flags.DEFINE_list,
    str: flags.DEFINE_string,
    dict: flags.DEFINE_string,  # JSON text
}


def apply_overrides(config: Any) -> Any:
    """Returns `config` with every explicitly given flag of the same name applied.

    Args:
        config: a preset (a dataclass instance).

    Returns:
        A copy with the given flags' values (lists become tuples, dicts are parsed JSON).

    Raises:
        UserInputError: a dict-valued flag that is not a JSON object.
    """
    from poison_tf.errors import UserInputError

    changes = {}
    for field in dataclasses.fields(config):
        if field.name in FLAGS and FLAGS[field.name].present:
            value = FLAGS[field.name].value
            current = getattr(config, field.name)
            if isinstance(current, tuple) and isinstance(value, list):
                value = tuple(value)
            elif isinstance(current, dict) and isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as error:
                    raise UserInputError(f"--{field.name}: not valid JSON ({error})") from None
                if not isinstance(value, dict):
                    raise UserInputError(f"--{field.name}: expected a JSON object")
            changes[field.name] = value
    return dataclasses.replace(config, **changes)


def config_record(config: Any, pipeline: str, preset: str) -> dict:
    """The resolved config as JSON-ready data: pipeline, preset and every field's value."""
    return {"pipeline": pipeline, "preset": preset, "config": dataclasses.asdict(config)}


def write_config(record: dict, output_dir: str) -> str:
    """Writes `<output_dir>/config.json`; returns its path."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, CONFIG_FILE)
    write_json(path, record)
    return path
