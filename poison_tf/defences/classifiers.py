"""What the classifier-based detectors need to know about an arbitrary functional Keras classifier.

STRIP, fine-pruning and the feature-space detector work on any single-input, single-output
functional (or Sequential) Keras classifier, not only the HackML DeepID net, so the things
they look up are found from the graph rather than from fixed layer names: the input shape,
the last Conv2D (what fine-pruning prunes), and the penultimate features (the input of the
last Dense layer, what the Mahalanobis detector models).
"""

from __future__ import annotations

import keras
import numpy as np

from poison_tf.errors import UserInputError, require


def input_shape_of(model: keras.Model) -> tuple[int, ...]:
    """(H, W, C) of a single-input image classifier; anything else is a UserInputError.

    Args:
        model: a Keras model.

    Returns:
        (H, W, C).

    Raises:
        UserInputError: not a Keras model, several inputs or outputs, or an input that is not a
            fixed (H, W, C) image.
    """
    require(isinstance(model, keras.Model), f"expected a keras.Model, got {type(model).__name__}")
    require(
        len(model.inputs) == 1 and len(model.outputs) == 1,
        f"model {model.name!r}: a detector needs one input and one output, it has "
        f"{len(model.inputs)} and {len(model.outputs)}",
    )
    shape = tuple(model.inputs[0].shape[1:])
    require(
        len(shape) == 3 and all(d is not None for d in shape),
        f"model {model.name!r}: input must be a fixed (H, W, C) image, got {shape}",
    )
    return tuple(int(d) for d in shape)


def get_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    """`model.get_layer(name)` with a UserInputError listing the layer names.

    Args:
        model: a Keras model.
        name: a layer name.

    Returns:
        The layer.

    Raises:
        UserInputError: no layer of that name.
    """
    try:
        return model.get_layer(name)
    except ValueError as exc:
        names = ", ".join(layer.name for layer in model.layers)
        raise UserInputError(
            f"model {model.name!r} has no layer {name!r}; layers: {names}"
        ) from exc


def last_conv_layer(model: keras.Model) -> str:
    """Name of the last Conv2D in the model's (topological) layer order.

    Args:
        model: a Keras model.

    Returns:
        The layer name.

    Raises:
        UserInputError: the model has no Conv2D layer.
    """
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    require(bool(convs), f"model {model.name!r} has no Conv2D layer to prune; pass layer=")
    return convs[-1]


def penultimate_layer(model: keras.Model) -> str:
    """Name of the layer whose output feeds the last Dense layer (the classification head).

    Args:
        model: a Keras classifier.

    Returns:
        The layer name.

    Raises:
        UserInputError: no Dense head, or one whose input is not a single layer's output.
    """
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    require(bool(dense), f"model {model.name!r} has no Dense head; pass layer=")
    producer = dense[-1].input._keras_history[0]
    require(
        isinstance(producer, keras.layers.Layer)
        and not isinstance(producer, keras.layers.InputLayer),
        f"model {model.name!r}: the head reads the input directly; pass layer=",
    )
    return producer.name


def feature_and_output_model(model: keras.Model, layer: str) -> keras.Model:
    """A functional model returning (features of `layer`, classifier output) in one pass.

    Args:
        model: a functional Keras classifier.
        layer: the feature layer's name.

    Returns:
        The two-output model (shares `model`'s weights).
    """
    features = get_layer(model, layer).output
    return keras.Model(model.inputs, [features, model.outputs[0]], name=f"{model.name}_features")


def as_probabilities(outputs: np.ndarray, from_logits: bool) -> np.ndarray:
    """Softmax of logits, or the outputs themselves when the model already ends in softmax.

    Args:
        outputs: [N, C] model outputs.
        from_logits: the outputs are logits.

    Returns:
        [N, C] probabilities.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    if not from_logits:
        return outputs
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
