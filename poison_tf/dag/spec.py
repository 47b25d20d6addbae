"""ComponentSpec: the typed INPUTS / OUTPUTS / PARAMETERS of a component (TFX's shape)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

from poison_tf.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class ChannelParameter:
    """An input or output artefact of a given type name.

    Args:
        type_name: the artefact type (`poison_tf.types`), checked when channels are wired.
        optional: an input that may be left unconnected.
        help: what the channel holds beyond its type (the role of an input, the files of an
            output), for the component's generated docstring.
    """

    type_name: str
    optional: bool = False
    help: str = ""


@dataclasses.dataclass(frozen=True)
class ExecutionParameter:
    """A plain parameter of a component.

    Args:
        type: the Python type of the value (bool, int, float or str); also the flag type.
        optional: None is an allowed value.
        default: the value when none is given.
        is_path: the value names files whose content joins the cache key (so editing a data
            set invalidates the cached outputs).
        help: what `--helpfull` prints for the generated flag.
        stamp_files: for `is_path` values that are not a plain path (a data-source string such
            as `yolo:<data.yaml>`), the function that lists the files or folders whose content
            makes the value's fingerprint. The data-source side supplies it, so the scheduler
            knows no data format. None: the value is a plain file or folder path.
    """

    type: type
    optional: bool = False
    default: Any = None
    is_path: bool = False
    help: str = ""
    stamp_files: Callable[[str], list[str]] | None = None


class ComponentSpec:
    """Subclasses declare INPUTS, OUTPUTS and PARAMETERS as class dictionaries."""

    INPUTS: ClassVar[dict[str, ChannelParameter]] = {}
    OUTPUTS: ClassVar[dict[str, ChannelParameter]] = {}
    PARAMETERS: ClassVar[dict[str, ExecutionParameter]] = {}

    @classmethod
    def resolve_parameters(cls, given: dict[str, Any], where: str) -> dict[str, Any]:
        """Fills defaults and checks names and types.

        Args:
            given: the parameter values of one use of the component.
            where: names the component in error messages.

        Returns:
            Every parameter of the spec with its value (given or default).

        Raises:
            UserInputError: an unknown name, a missing required value or a wrong type.
        """
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
