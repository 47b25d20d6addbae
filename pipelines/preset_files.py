"""Presets as data: each pipeline's presets live in `pipelines/presets/<pipeline>.toml`.

A preset is a table of the config fields it changes; every other field keeps the dataclass
default. Keeping them in TOML (read with the standard library's `tomllib`) lets a preset's
numbers and the comments that explain them be read and edited without the pipeline's code, and
keeps the pipeline modules about the DAG. TOML has no tuples and no null, so a list becomes a
tuple where the field is a tuple, and a field left out keeps its default.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import tomllib
import typing
from typing import Any

PRESET_DIR = "presets"


def preset_path(pipeline: str):
    """The TOML file that holds a pipeline's presets (a path inside the `pipelines` package)."""
    return importlib.resources.files("pipelines") / PRESET_DIR / f"{pipeline}.toml"


def _is_tuple(hint: Any) -> bool:
    return hint is tuple or typing.get_origin(hint) is tuple


def _as_field_value(value: Any, hint: Any) -> Any:
    """TOML's list as the tuple a tuple field holds; every other value as TOML read it."""
    if _is_tuple(hint) and isinstance(value, list):
        return tuple(value)
    return value


def build_config(config_cls: type, table: dict, where: str) -> Any:
    """One preset: the config dataclass's defaults with the table's fields replaced.

    Args:
        config_cls: the pipeline's config dataclass.
        table: field name → value, as read from the TOML file.
        where: the file and preset, named in the error.

    Returns:
        A `config_cls` instance.

    Raises:
        ValueError: a key that is not a field of `config_cls` (a typo would otherwise be a
            preset that silently runs with the default).
    """
    hints = typing.get_type_hints(config_cls)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    for key in table:
        if key not in fields:
            raise ValueError(f"{where}: unknown key {key!r} (not a field of {config_cls.__name__})")
    values = {key: _as_field_value(value, hints[key]) for key, value in table.items()}
    return dataclasses.replace(config_cls(), **values)


def load_presets(config_cls: type, pipeline: str) -> dict[str, Any]:
    """Reads a pipeline's presets file into name → config, in the file's order.

    Args:
        config_cls: the pipeline's config dataclass.
        pipeline: the pipeline's name (`NAME`), which names the file.

    Returns:
        {preset name: `config_cls` instance}.

    Raises:
        ValueError: an entry that is not a table, or a key that is not a field of `config_cls`.
    """
    path = preset_path(pipeline)
    with path.open("rb") as file:
        tables = tomllib.load(file)
    presets = {}
    for name, table in tables.items():
        where = f"{path}: preset {name!r}"
        if not isinstance(table, dict):
            raise ValueError(f"{where}: a preset must be a table ([{name}])")
        presets[name] = build_config(config_cls, table, where)
    return presets
