"""ComponentSpec: the typed INPUTS / OUTPUTS / PARAMETERS of a component (TFX's shape)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from poison_tf.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class ChannelParameter:
    """An input or output artefact of a given type name."""

    type_name: str
    optional: bool = False


@dataclasses.dataclass(frozen=True)
class ExecutionParameter:
    """A plain parameter. `is_path=True` marks a file or folder whose content joins the cache key."""

    type: type
    optional: bool = False
    default: Any = None
    is_path: bool = False
    help: str = ""


class ComponentSpec:
    """Subclasses declare INPUTS, OUTPUTS and PARAMETERS as class dictionaries."""

    INPUTS: ClassVar[dict[str, ChannelParameter]] = {}
    OUTPUTS: ClassVar[dict[str, ChannelParameter]] = {}
    PARAMETERS: ClassVar[dict[str, ExecutionParameter]] = {}

    @classmethod
    def resolve_parameters(cls, given: dict[str, Any], where: str) -> dict[str, Any]:
        """Fills defaults and checks names and types; `where` names the component in errors."""
        unknown = sorted(set(given) - set(cls.PARAMETERS))
        if unknown:
            raise UserInputError(f"{where}: unknown parameter(s) {unknown}")
        resolved = {}
        for name, spec in cls.PARAMETERS.items():
            value = given.get(name, spec.default)
            if value is None:
                if not spec.optional:
                    raise UserInputError(f"{where}: parameter {name!r} is required")
                resolved[name] = None
                continue
            if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, spec.type):
                raise UserInputError(
                    f"{where}: parameter {name!r} must be {spec.type.__name__}, got {value!r}"
                )
            resolved[name] = value
        return resolved
