"""BaseExecutor (`Do(input_dict, output_dict, exec_properties)`) and BaseComponent.

A component binds a spec, an executor and the values of one use: input channels (outputs of
upstream components) and parameters. `VERSION` joins the cache key, so bumping it after a
behaviour change invalidates cached outputs of that component only.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from poison_tf.components.artifact import Artifact
from poison_tf.components.spec import ComponentSpec
from poison_tf.errors import UserInputError


class BaseExecutor:
    """Executors read input artefacts, write into the (temporary) output URIs, return nothing."""

    def Do(  # noqa: N802 (TFX's name)
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Channel:
    """The output `key` of the component `producer_id`, of type `type_name`."""

    producer_id: str
    key: str
    type_name: str


class BaseComponent:
    """Subclasses set SPEC_CLASS and EXECUTOR_CLASS (and VERSION when behaviour changes)."""

    SPEC_CLASS: ClassVar[type[ComponentSpec]] = ComponentSpec
    EXECUTOR_CLASS: ClassVar[type[BaseExecutor]] = BaseExecutor
    VERSION: ClassVar[str] = "1"

    def __init__(self, instance_name: str | None = None, **kwargs: Any):
        self.id = type(self).__name__ + (f".{instance_name}" if instance_name else "")
        spec = self.SPEC_CLASS
        self.inputs: dict[str, list[Channel]] = {}
        params = {}
        for name, value in kwargs.items():
            if name not in spec.INPUTS:
                params[name] = value
                continue
            if value is None:
                continue
            channels = list(value) if isinstance(value, list | tuple) else [value]
            expected = spec.INPUTS[name].type_name
            for channel in channels:
                if not isinstance(channel, Channel) or channel.type_name != expected:
                    raise TypeError(
                        f"{self.id}: input {name!r} takes {expected} channels, got {channel!r}"
                    )
            self.inputs[name] = channels
        missing = [k for k, c in spec.INPUTS.items() if not c.optional and k not in self.inputs]
        if missing:
            raise TypeError(f"{self.id}: missing input channel(s) {missing}")
        self.exec_properties = spec.resolve_parameters(params, self.id)
        self.outputs = {
            key: Channel(self.id, key, channel.type_name) for key, channel in spec.OUTPUTS.items()
        }

    def upstream_ids(self) -> list[str]:
        return sorted({c.producer_id for channels in self.inputs.values() for c in channels})

    @classmethod
    def run_standalone(
        cls, inputs: dict[str, list[str]], params: dict[str, Any], output_root: str
    ) -> dict[str, Artifact]:
        """Runs the component alone on artefact URIs, as its `poison-tf-<stage>` program does."""
        from poison_tf.components.runner import execute_component

        artifacts: dict[str, list[Artifact]] = {}
        for key, uris in inputs.items():
            if key not in cls.SPEC_CLASS.INPUTS:
                raise UserInputError(f"{cls.__name__}: unknown input {key!r}")
            artifacts[key] = [Artifact.load(u, cls.SPEC_CLASS.INPUTS[key].type_name) for u in uris]
        channels = {
            k: [Channel("external", k, a.type_name) for a in v] for k, v in artifacts.items()
        }
        component = cls(**channels, **params)
        return execute_component(component, artifacts, output_root, use_cache=True)[0]
