"""Moving YOLOv8-seg weights between models: another input size, another class count.

A `YoloV8Seg` is built for one square input size, but no weight depends on it (every layer is a
convolution), so a model resizes by rebuilding and copying. Fine-tuning a checkpoint on data with
another class count keeps what fits, as Ultralytics does when it loads pretrained weights into a
new model (`intersect_dicts`: tensors whose name and shape match are copied, the rest keep their
fresh initialisation): with a different `nc`, the class branch's output conv (and its hidden
convs, whose width is max(ch, min(nc, 100))) start fresh, with the class-prior bias init.
"""

from __future__ import annotations

import keras
from absl import logging

from poison_tf.errors import require
from poison_tf.models.yolo_v8_seg import YoloV8Seg


def all_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Every layer of `model` by name, nested models (the keras-cv backbone) flattened.

    Args:
        model: any Keras model.

    Returns:
        {layer name: layer} of the layers that hold weights.
    """
    found: dict[str, keras.layers.Layer] = {}
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        if isinstance(layer, keras.Model):
            stack.extend(layer.layers)
        elif layer.weights:
            found[layer.name] = layer
    return found


def with_image_size(model: YoloV8Seg, image_size: int) -> YoloV8Seg:
    """The same network and weights for `image_size` x `image_size` inputs.

    Args:
        model: a YOLOv8-seg model.
        image_size: the new S.

    Returns:
        `model` itself when its size is already S, else a copy built for S with its weights.
    """
    if model.image_size == image_size:
        return model
    config = model.get_config() | {"image_size": image_size}
    resized = YoloV8Seg.from_config(config)
    resized.set_weights(model.get_weights())
    return resized


def transfer_weights(source: keras.Model, target: keras.Model) -> tuple[int, list[str]]:
    """Copies every weight of `source` whose layer name and shape match into `target`.

    Args:
        source: the initial model (imported or loaded).
        target: the freshly built model to initialise.

    Returns:
        (weights copied, names of the target layers left at their fresh initialisation).
    """
    source_layers = all_layers(source)
    copied, fresh = 0, []
    for name, layer in all_layers(target).items():
        other = source_layers.get(name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if other is None or [tuple(w.shape) for w in other.weights] != shapes:
            fresh.append(name)
            continue
        for variable, value in zip(layer.weights, other.weights):
            variable.assign(value)
            copied += 1
    return copied, sorted(fresh)


def initialise_from(model: YoloV8Seg, source: keras.Model, origin: str) -> YoloV8Seg:
    """Initialises a freshly built `model` from `source` (same size), logging what stays fresh.

    Args:
        model: the freshly built model.
        source: the initial model (imported or loaded).
        origin: names the source in messages (a file or flag).

    Returns:
        `model`, its weights copied from `source` where names and shapes match.

    Raises:
        UserInputError: `source` is not a YoloV8Seg of the same size (the backbone would not fit).
    """
    require(
        isinstance(source, YoloV8Seg),
        f"{origin}: a {type(source).__name__}, not a YOLOv8-seg model",
    )
    require(
        (source.size, source.num_masks) == (model.size, model.num_masks),
        f"{origin}: a YOLOv8-seg '{source.size}' with {source.num_masks} masks; the trainer builds "
        f"'{model.size}' with {model.num_masks} (pass --model_size={source.size})",
    )
    copied, fresh = transfer_weights(source, model)
    total = len(model.weights)
    if source.num_classes != model.num_classes:
        logging.warning(
            "%s: %d classes, the data has %d: class head re-initialised (%s); %d/%d weights "
            "transferred",
            origin,
            source.num_classes,
            model.num_classes,
            ", ".join(fresh),
            copied,
            total,
        )
    else:
        logging.info("%s: %d/%d weights transferred", origin, copied, total)
    require(
        all(name.startswith("cls") for name in fresh),
        f"internal: layers other than the class head did not transfer: {fresh}",
    )
    return model
