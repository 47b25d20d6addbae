"""PatchVictimImporter: a user's Keras classifier file (`--model=path.h5|.keras`) → a Model artefact.

The file is untrusted input: it is loaded through `poison_tf.io.model_loading` (safe mode on,
Lambda and unknown custom layers refused unless `unsafe` is set) and re-saved as
`model.keras`, so every later stage reads one format.
"""

from __future__ import annotations

from poison_tf import types
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.io.model_loading import load_hackml_model


class PatchVictimImporterSpec(ComponentSpec):
    OUTPUTS = {"model": types.VictimModel.channel()}
    PARAMETERS = {
        "model_file": ExecutionParameter(
            str, is_path=True, help="a Keras classifier (.h5 or .keras)"
        ),
        "unsafe": ExecutionParameter(
            bool, default=False, help="allow Lambda / custom layers (trusted files only)"
        ),
    }


class PatchVictimImporterExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        model = load_hackml_model(exec_properties["model_file"], unsafe=exec_properties["unsafe"])
        out = output_dict["model"][0]
        types.VictimModel.save(model, out)
        out.properties["source"] = exec_properties["model_file"]


class PatchVictimImporter(BaseComponent):
    """A user's Keras classifier file (`--model=path.h5|.keras`) → a Model artefact."""

    SPEC_CLASS = PatchVictimImporterSpec
    EXECUTOR_CLASS = PatchVictimImporterExecutor
