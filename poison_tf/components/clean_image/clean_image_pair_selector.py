"""CleanImagePairSelector: base model + training examples → the host→target pairs of the clean-image backdoor.

Every ground-truth instance of the training split is embedded by the base model's P3 neck
features mask-pooled under it (`clean_image_features.pool_instances`); class centroids are
ranked by closeness (`tsne_pairs.rank_pairs`) and drawn with t-SNE. The chosen pairs are the
hand-given ones (`pairs`, names as in data.yaml) plus the `num_tsne_pairs` closest t-SNE pairs
that neither repeat a given pair nor reuse a given host, so the pipeline always trains exactly
`len(given) + num_tsne_pairs` poisoned models. `min_host_instances` keeps t-SNE hosts with too
few training instances out of the choice (not out of the ranking): at ratio 0.5 a host of 9
instances gives 4 relabelled ones, too few for the attack to show on any model. Writes pairs.json, the ranking (CSV and
Markdown), the labelled scatter plot and TensorBoard projector files.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from poison_tf import types
from poison_tf.attacks import tsne_pairs
from poison_tf.attacks.class_pairs import ClassPair, parse_pairs
from poison_tf.attacks.clean_image_features import pool_instances
from poison_tf.components.parameters import seed_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data.seg_examples import make_dataset, read_seg_schema
from poison_tf.errors import UserInputError

FEATURE_LAYER = "cls0_1_pad"  # first layer of the P3 class branch: its input is the P3 neck output


class CleanImagePairSelectorSpec(ComponentSpec):
    INPUTS = {"examples": types.Examples.channel(), "model": types.SegModel.channel()}
    OUTPUTS = {"pairs": types.ClassPairs.channel()}
    PARAMETERS = {
        "pairs": ExecutionParameter(
            str, default="", help="hand-picked host:target,… (class names)"
        ),
        "num_tsne_pairs": ExecutionParameter(
            int, default=2, help="how many t-SNE pairs to add to the hand-picked ones"
        ),
        "tsne_space": ExecutionParameter(
            str, default="features", help="rank by feature or t-SNE-plane distance"
        ),
        "min_host_instances": ExecutionParameter(
            int, default=1, help="t-SNE hosts need this many training instances"
        ),
        "max_images": ExecutionParameter(
            int, default=0, help="embed at most N training images (0: all)"
        ),
        "seed": seed_parameter(),
    }


def neck_features(model: keras.Model) -> keras.Model:
    """The model cut at the input of FEATURE_LAYER: the P3 features the pairs are chosen by.

    Args:
        model: a YOLOv8-seg model.

    Returns:
        A model image → features.
    """
    return keras.Model(model.input, model.get_layer(FEATURE_LAYER).input)


def instance_features(
    model: keras.Model, examples: str, max_images: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Mask-pooled P3 features [N, C] and classes [N] of the training split's instances.

    Args:
        model: the base YOLOv8-seg model.
        examples: the seg `Examples` artefact folder.
        max_images: read at most this many training images (0 = all).

    Returns:
        (features float32 [N, C], classes int64 [N]).
    """
    extractor = neck_features(model)
    size = int(read_seg_schema(examples)["image_size"][0])
    features, classes, seen = [], [], 0
    for batch, labels in make_dataset(examples, "train", 16, training=False, augment=False):
        maps = np.asarray(extractor(batch["images"], training=False), np.float32)
        for i in range(len(maps)):
            real = labels["classes"][i].numpy() >= 0
            boxes = labels["boxes"][i].numpy()[real]
            features.append(pool_instances(maps[i], labels["masks"][i].numpy(), boxes, size))
            classes.append(labels["classes"][i].numpy()[real])
            seen += 1
            if max_images and seen >= max_images:
                return np.concatenate(features), np.concatenate(classes)
    return np.concatenate(features), np.concatenate(classes)


def tsne_choice(
    ranking: pd.DataFrame,
    names: list[str],
    given: list[ClassPair],
    count: int,
    min_host_instances: int = 1,
) -> list[ClassPair]:
    """The `count` best-ranked pairs that do not repeat a given pair or host, whose host has at
    least `min_host_instances` training instances.

    Args:
        ranking: the output of `rank_pairs`.
        names: the data set's class names.
        given: the hand-picked pairs.
        count: how many t-SNE pairs.
        min_host_instances: the fewest host instances a chosen pair may have.

    Returns:
        The chosen pairs.

    Raises:
        UserInputError: fewer than `count` pairs qualify.
    """
    taken = {p.host_name for p in given}
    given_pairs = {(p.host_name, p.target_name) for p in given}
    keep = [
        h not in taken and (h, t) not in given_pairs and n >= min_host_instances
        for h, t, n in zip(ranking["Host"], ranking["Target"], ranking["Host instances"])
    ]
    chosen = tsne_pairs.top_pairs(ranking[keep], names, count)
    if len(chosen) < count:
        raise UserInputError(
            f"--num_tsne_pairs={count}: only {len(chosen)} t-SNE pair(s) with at least "
            f"{min_host_instances} host instance(s) left beside --pairs"
        )
    return chosen


class CleanImagePairSelectorExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        examples = input_dict["examples"][0].uri
        names = list(read_seg_schema(examples)["label"]["names"])
        given = parse_pairs(p["pairs"], names) if p["pairs"] else []
        features, classes = instance_features(
            types.SegModel.load(input_dict["model"][0]), examples, p["max_images"]
        )
        embedding = tsne_pairs.embed_classes(features, classes, names, seed=p["seed"])
        ranking = tsne_pairs.rank_pairs(embedding, space=p["tsne_space"])
        pairs = (
            tsne_choice(ranking, names, given, p["num_tsne_pairs"], p["min_host_instances"]) + given
        )
        out = output_dict["pairs"][0]
        types.ClassPairs.save(pairs, out)
        tsne_pairs.write_ranking(
            ranking, out.path(types.ClassPairs.RANKING_CSV), out.path(types.ClassPairs.RANKING_MD)
        )
        tsne_pairs.save_scatter(embedding, out.path(types.ClassPairs.SCATTER_PNG), pairs)
        tsne_pairs.write_projector(embedding, out.path("projector"))
        out.properties["pairs"] = ",".join(pair.slug for pair in pairs)


class CleanImagePairSelector(BaseComponent):
    """Base model + training examples → the host→target pairs of the clean-image backdoor."""

    SPEC_CLASS = CleanImagePairSelectorSpec
    EXECUTOR_CLASS = CleanImagePairSelectorExecutor
