"""Artifact: a directory URI with a type name and properties, described by `artifact.json`.

Artifacts are passed between components as URIs on disk, never as in-memory objects, so each
stage can also run as its own process (or container) on the same URIs.
"""

from __future__ import annotations

import dataclasses
import os

from poison_tf.errors import UserInputError
from poison_tf.io.atomic import read_json, write_json

METADATA_FILE = "artifact.json"


@dataclasses.dataclass
class Artifact:
    """A typed directory artefact. `fingerprint` identifies its content for caching."""

    type_name: str
    uri: str
    properties: dict = dataclasses.field(default_factory=dict)
    fingerprint: str = ""

    def path(self, *parts: str) -> str:
        """A path inside the artefact directory."""
        return os.path.join(self.uri, *parts)

    def save_metadata(self) -> None:
        os.makedirs(self.uri, exist_ok=True)
        write_json(self.path(METADATA_FILE), dataclasses.asdict(self) | {"uri": None})

    @classmethod
    def load(cls, uri: str, expected_type: str | None = None) -> Artifact:
        """Reads the artefact at `uri`; names the URI if it is missing or of the wrong type."""
        meta_path = os.path.join(uri, METADATA_FILE)
        if not os.path.isfile(meta_path):
            raise UserInputError(f"{uri}: not an artefact directory (no {METADATA_FILE})")
        return cls.from_metadata(read_json(meta_path), uri, expected_type)

    @classmethod
    def from_metadata(cls, meta: dict, uri: str, expected_type: str | None = None) -> Artifact:
        """The artefact described by the `artifact.json` contents `meta`, placed at `uri`.

        Args:
            meta: the parsed `artifact.json` (read locally, or from a URI by `staging`).
            uri: where the artefact's folder is (or will be) on this machine.
            expected_type: its type must be this one, when given.

        Returns:
            The artefact.

        Raises:
            UserInputError: the artefact is of another type.
        """
        artifact = cls(
            type_name=meta["type_name"],
            uri=uri,
            properties=meta.get("properties", {}),
            fingerprint=meta.get("fingerprint", ""),
        )
        if expected_type and artifact.type_name != expected_type:
            raise UserInputError(
                f"{uri}: artefact of type {artifact.type_name!r}, expected {expected_type!r}"
            )
        return artifact
