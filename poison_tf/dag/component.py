"""BaseComponent and Channel: one use of a component (its spec, executor, inputs, parameters).

A component binds a spec, an executor and the values of one use: input channels (outputs of
upstream components) and parameters. `VERSION` joins the cache key, so bumping it after a
behaviour change invalidates cached outputs of that component only.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from poison_tf.dag.artifact import Artifact
from poison_tf.dag.component_doc import component_doc
from poison_tf.dag.execution import execute_component
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec
from poison_tf.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class Channel:
    """The output `key` of the component `producer_id`, of type `type_name`."""

    producer_id: str
    key: str
    type_name: str


class BaseComponent:
    """Subclasses set SPEC_CLASS and EXECUTOR_CLASS (and VERSION when behaviour changes).

    A subclass's docstring says what the component does and why; its `Args:` and `Outputs:`
    sections are generated from SPEC_CLASS when the class is created (`component_doc`), so they
    always list the spec's real inputs, parameters (type, help text, default) and outputs.

    Args:
        instance_name: tells apart two uses of one component in a pipeline; the component id
            (and its folder under the pipeline root) is `<class name>[.<instance_name>]`.
        **kwargs: input channels (by input key: a `Channel` or a list of them) and parameter
            values (by parameter name).

    Raises:
        TypeError: a channel of the wrong type or a missing required input (a programming error).
        UserInputError: a bad parameter value (see `ComponentSpec.resolve_parameters`).
    """

    SPEC_CLASS: ClassVar[type[ComponentSpec]] = ComponentSpec
    EXECUTOR_CLASS: ClassVar[type[BaseExecutor]] = BaseExecutor
    VERSION: ClassVar[str] = "1"

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        cls.__doc__ = component_doc(cls.__name__, cls.__doc__, cls.SPEC_CLASS)

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
        """Ids of the components whose outputs this one reads."""
        return sorted({c.producer_id for channels in self.inputs.values() for c in channels})

    @classmethod
    def run_standalone(
        cls, inputs: dict[str, list[str]], params: dict[str, Any], output_root: str
    ) -> dict[str, Artifact]:
        """Runs the component alone on artefact URIs, as its `poison-tf-<stage>` program does.

        Args:
            inputs: input key → URIs of existing artefacts (their types are checked).
            params: parameter values; the rest keep the spec's defaults.
            output_root: receives `<component id>/<fingerprint>/`; a finished execution with the
                same fingerprint there is reused.

        Returns:
            Output key → the written (or cached) artefact.

        Raises:
            UserInputError: an unknown input key, a URI that is not an artefact of the expected
                type, or a bad parameter.
        """
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
