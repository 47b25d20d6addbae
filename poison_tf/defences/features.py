"""Penultimate features of any functional Keras classifier, for the training-set filters.

Spectral signatures and activation clustering read the representation the classification head
sees: BackdoorBench hooks the input of PreAct-ResNet18's `linear` layer (`defense/spectral.py`,
`defense/ac.py`). Here the layer is found from the graph (`classifiers.penultimate_layer`: the
producer of the last Dense layer's input), so any functional or Sequential model works, unlike
ART's TF2 `get_activations` (Sequential only, ART#1183). A model whose head reads the input
directly, or that has no Dense head, has no such layer: a user error naming the model.
"""

from __future__ import annotations

import keras
import numpy as np

from poison_tf.defences import classifiers
from poison_tf.errors import UserInputError


def feature_layer(model: keras.Model, layer: str | None = None) -> str:
    """The layer a feature defence reads: `layer` if given, else the penultimate one.

    Args:
        model: a Keras classifier.
        layer: a layer name, or None.

    Returns:
        The layer name.

    Raises:
        UserInputError: `layer` is not in the model.
    """
    classifiers.input_shape_of(model)
    if layer is not None:
        classifiers.get_layer(model, layer)
        return layer
    try:
        return classifiers.penultimate_layer(model)
    except UserInputError as error:
        raise UserInputError(
            f"{error} (a feature defence needs a penultimate layer feeding the Dense head)"
        ) from None


def extract(
    model: keras.Model, images: np.ndarray, layer: str | None = None, batch_size: int = 256
) -> np.ndarray:
    """Features [N, D] (flattened) of `layer` (penultimate by default) for `images`.

    Args:
        model: a Keras classifier.
        images: [N, H, W, C].
        layer: the feature layer, or None (penultimate).
        batch_size: images per model call.

    Returns:
        float32 [N, D].
    """
    name = feature_layer(model, layer)
    extractor = keras.Model(model.inputs, classifiers.get_layer(model, name).output)
    features = extractor.predict(images, batch_size=batch_size, verbose=0)
    return np.asarray(features, np.float64).reshape(len(images), -1)
