"""Loading a segmenter for `poison-tf-seg-val --weights`: refuse anything that is not one.

Why: the model loader accepts every Keras model it can load safely, and a classifier given where
a segmenter belongs used to get as far as the data writer and complain about image sizes.
The model's class says what it is, so the loader asks before anything else runs.
"""

from __future__ import annotations

import keras

from poison_tf.errors import UserInputError
from poison_tf.io.model_loading import load_hackml_model
from poison_tf.io.safe_read import check_input_file


def load_segmenter(path: str, unsafe: bool = False) -> keras.Model:
    """The YOLOv8-seg model stored at `path` (a SegTrainer `.keras`), or a message saying why not.

    Args:
        path: the model file the user named.
        unsafe: allow Lambda / unknown custom layers (`--unsafe_deserialization`).

    Returns:
        The loaded `YoloV8Seg`.
    """
    from poison_tf.models.yolo_v8_seg import YoloV8Seg  # registers the class for loading

    check_input_file(path, "model file")
    model = load_hackml_model(path, unsafe=unsafe)
    if not isinstance(model, YoloV8Seg):
        outputs = ", ".join(str(tuple(o.shape)) for o in model.outputs)
        raise UserInputError(
            f"model file {path}: this is not a segmentation model ({type(model).__name__} with "
            f"output(s) {outputs}); give the YOLOv8-seg .keras file a SegTrainer wrote"
        )
    return model
