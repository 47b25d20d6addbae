"""FaceExampleGen: a face source → train/val/test TFRecords of (image, identity, id) + schema.

Sources: `synthetic` (the project's rendered identities, the embedded default),
`hackml:<data.h5>` (one CSAW-HackML data file, see `poison_tf.data.hackml`), HackML's separate
files `hackml:val=<h5>,test=<h5>[,train=<h5>]` (`valid=` is accepted for `val=`), or
`lfw:<dir>` (an LFW-style folder with one sub-folder per identity, e.g.
../shared/datasets/lfw-deepfunneled-min20 or its `images/`; each 250×250 image is cropped as
SOURCES.md says and resized to 55×47). A single source is split per identity by a seeded
permutation, so each split holds every class. HackML ships its clean validation and test data
as separate files: they become the `val` and `test` splits as they are, and, since the pipeline
trains its own BadNet, the `train` split is its own file or, without one, a per-identity share
(1 - val_fraction) carved from the validation file. Class ids are made dense over all files
together. The schema's label carries `num_classes`.
"""

from __future__ import annotations

import os

import numpy as np

from poison_tf import types
from poison_tf.components.parameters import seed_parameter, shards_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data import image_examples
from poison_tf.data.source_files import source_parameter
from poison_tf.data.synthetic_faces import HEIGHT, LFW_CROP, WIDTH, render_faces
from poison_tf.errors import UserInputError

SPLITS = ("train", "val", "test")


def hackml_files(spec: str) -> list[str]:
    """The h5 files of a `hackml:` source (its cache stamp); a malformed one is left to the executor.

    Args:
        spec: the source after `hackml:`.

    Returns:
        The h5 paths.
    """
    try:
        return list(parse_hackml_source(spec).values())
    except UserInputError:
        return [spec]


class FaceExampleGenSpec(ComponentSpec):
    OUTPUTS = {"examples": types.Examples.channel()}
    PARAMETERS = {
        "source": source_parameter(
            "synthetic | hackml:<h5> | hackml:val=<h5>,test=<h5>[,train=<h5>] | lfw:<dir>",
            kinds={"hackml": hackml_files},
        ),
        "num_identities": ExecutionParameter(
            int, default=10, help="synthetic: identities; lfw: keep the first N (0 = all)"
        ),
        "images_per_identity": ExecutionParameter(
            int, default=60, help="synthetic: images per identity; lfw: at most (0 = all)"
        ),
        "val_fraction": ExecutionParameter(
            float, default=0.2, help="share of the identities' images held out for validation"
        ),
        "test_fraction": ExecutionParameter(
            float, default=0.2, help="share of the identities' images held out for testing"
        ),
        "seed": seed_parameter(17),
        "num_shards": shards_parameter(),
    }


def load_lfw(
    folder: str, max_identities: int = 0, max_per_identity: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Identity folders in sorted order → uint8 [N, 55, 47, 3] crops and labels.

    Args:
        folder: the LFW folder (one sub-folder per identity).
        max_identities: read at most this many identities (0 = all).
        max_per_identity: read at most this many images of each (0 = all).

    Returns:
        (images, labels).

    Raises:
        UserInputError: the folder is missing, holds fewer than two identities, or an image
            cannot be read.
    """
    from PIL import Image, UnidentifiedImageError

    if os.path.isdir(os.path.join(folder, "images")):
        folder = os.path.join(folder, "images")
    if not os.path.isdir(folder):
        raise UserInputError(f"{folder}: LFW folder not found")
    people = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    if max_identities:
        people = people[:max_identities]
    if len(people) < 2:
        raise UserInputError(
            f"{folder}: needs at least two identity sub-folders, found {len(people)}"
        )
    images, labels = [], []
    for label, person in enumerate(people):
        files = sorted(
            f
            for f in os.listdir(os.path.join(folder, person))
            if f.lower().endswith((".jpg", ".jpeg", ".png"))
        )
        for name in files[: max_per_identity or None]:
            path = os.path.join(folder, person, name)
            try:
                with Image.open(path) as image:
                    image = image.convert("RGB")
                    if image.size == (250, 250):
                        image = image.crop(LFW_CROP)
                    images.append(np.asarray(image.resize((WIDTH, HEIGHT), Image.BILINEAR)))
            except (OSError, UnidentifiedImageError) as error:
                raise UserInputError(f"{path}: cannot read image ({error})") from None
            labels.append(label)
    return np.stack(images), np.asarray(labels, np.int64)


def load_hackml(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A HackML h5 file as uint8 RGB faces and int64 labels.

    Args:
        path: the .h5 file.

    Returns:
        (images uint8 [N, 55, 47, 3], labels int64 [N]).

    Raises:
        UserInputError: a bad file, or images that are not RGB.
    """
    from poison_tf.data.hackml import open_hackml

    data = open_hackml(path)
    parts = [
        (np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8), y) for _, x, y in data.batches(1024)
    ]
    images = np.concatenate([p[0] for p in parts])
    if images.shape[-1] != 3:
        raise UserInputError(
            f"{path}: images have {images.shape[-1]} channels; face examples need RGB"
        )
    return images, np.concatenate([p[1] for p in parts]).astype(np.int64)


HACKML_SPLIT_KEYS = {"train": "train", "val": "val", "valid": "val", "test": "test"}


def parse_hackml_source(spec: str) -> dict[str, str]:
    """The part after `hackml:`: one file → {"all": path}; `val=<h5>,test=<h5>[,train=<h5>]`
    → {split: path}. Anything malformed is a `UserInputError` naming --source.

    Args:
        spec: the source after `hackml:`.

    Returns:
        {split or "all": h5 path}.

    Raises:
        UserInputError: see above.
    """
    first = spec.split(",", 1)[0]
    if "=" not in first or first.partition("=")[0].strip() not in HACKML_SPLIT_KEYS:
        return {"all": spec}
    files: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, path = (s.strip() for s in part.partition("="))
        if not sep or key not in HACKML_SPLIT_KEYS or not path:
            raise UserInputError(
                f"--source=hackml:{spec}: {part!r} is not <split>=<file.h5> "
                f"(splits: {', '.join(HACKML_SPLIT_KEYS)})"
            )
        split = HACKML_SPLIT_KEYS[key]
        if split in files:
            raise UserInputError(f"--source=hackml:{spec}: the {split} file is given twice")
        files[split] = path
    missing = [s for s in ("val", "test") if s not in files]
    if missing:
        raise UserInputError(
            f"--source=hackml:{spec}: missing {' and '.join(f'{s}=<h5>' for s in missing)} "
            "(separate files need val= and test=, train= is optional)"
        )
    return files


def load_hackml_splits(
    files: dict[str, str], val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Separate HackML files → (images, labels, {split: indices}); without a train file, the
    train split is the per-identity (1 - val_fraction) share of the validation file.

    Args:
        files: {split: h5 path} (val and test at least).
        val_fraction: the validation share when there is no train file, in (0, 1).
        seed: the split's seed.

    Returns:
        (images, labels, {split: indices}).

    Raises:
        UserInputError: a bad fraction or file.
    """
    if not 0 < val_fraction < 1:
        raise UserInputError(f"--val_fraction={val_fraction}: must be in (0, 1)")
    loaded = {split: load_hackml(path) for split, path in files.items()}
    starts = np.cumsum([0] + [len(loaded[s][1]) for s in loaded])
    order = {s: np.arange(starts[i], starts[i + 1]) for i, s in enumerate(loaded)}
    images = np.concatenate([loaded[s][0] for s in loaded])
    labels = np.concatenate([loaded[s][1] for s in loaded])
    if "train" not in files:
        val = order["val"]
        rng = np.random.default_rng(seed)
        keep, train = [], []
        for label in np.unique(labels[val]):
            members = rng.permutation(val[labels[val] == label])
            n_val = max(1, round(len(members) * val_fraction))
            if len(members) < n_val + 1:
                raise UserInputError(
                    f"{files['val']}: identity {label} has {len(members)} image(s), too few to "
                    "share between train and val; give a train=<h5> file"
                )
            keep.append(members[:n_val])
            train.append(members[n_val:])
        order["val"] = np.sort(np.concatenate(keep))
        order["train"] = np.sort(np.concatenate(train))
    return images, labels, {s: order[s] for s in SPLITS}


def split_by_identity(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> dict:
    """{split: sorted indices}, each identity's images shared out in the given fractions.

    Args:
        labels: int identities [N].
        val_fraction: the validation share.
        test_fraction: the test share.
        seed: the split's seed.

    Returns:
        {"train", "val", "test": sorted indices}.

    Raises:
        UserInputError: fractions out of range, or an identity too small to share out.
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise UserInputError(
            f"--val_fraction={val_fraction}, --test_fraction={test_fraction}: each in (0, 1), sum < 1"
        )
    rng = np.random.default_rng(seed)
    parts = {s: [] for s in SPLITS}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = max(1, round(len(members) * val_fraction))
        n_test = max(1, round(len(members) * test_fraction))
        if len(members) < n_val + n_test + 1:
            raise UserInputError(
                f"identity {label} has {len(members)} images: too few for train/val/test"
            )
        parts["val"].append(members[:n_val])
        parts["test"].append(members[n_val : n_val + n_test])
        parts["train"].append(members[n_val + n_test :])
    return {s: np.sort(np.concatenate(v)) for s, v in parts.items()}


class FaceExampleGenExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        source = exec_properties["source"]
        kind, _, path = source.partition(":")
        k, m = exec_properties["num_identities"], exec_properties["images_per_identity"]
        order = None  # {split: indices} when the source comes split already
        if source == "synthetic":
            images, labels = render_faces(k, m, seed=exec_properties["seed"])
        elif kind == "hackml" and path:
            files = parse_hackml_source(path)
            if "all" in files:
                images, labels = load_hackml(files["all"])
            else:
                images, labels, order = load_hackml_splits(
                    files, exec_properties["val_fraction"], exec_properties["seed"]
                )
        elif kind == "lfw" and path:
            images, labels = load_lfw(path, k, m)
        else:
            raise UserInputError(
                f"--source={source!r}: use synthetic, hackml:<data.h5>, "
                "hackml:val=<h5>,test=<h5>[,train=<h5>] or lfw:<dir>"
            )
        _, labels = np.unique(labels, return_inverse=True)  # dense class ids 0..C-1
        labels = labels.astype(np.int64)
        num_classes = int(labels.max()) + 1
        if order is None:
            order = split_by_identity(
                labels,
                exec_properties["val_fraction"],
                exec_properties["test_fraction"],
                exec_properties["seed"],
            )
        out = output_dict["examples"][0]
        splits = {
            s: image_examples.write_split(
                out.uri, s, images[idx], labels[idx], exec_properties["num_shards"]
            )
            for s, idx in order.items()
        }
        label = {
            "kind": "class",
            "dim": 1,
            "num_classes": num_classes,
            "names": [str(i) for i in range(num_classes)],
        }
        image_examples.write_schema(out.uri, splits, images.shape[1:3], label, source)
        out.properties.update({s: v["count"] for s, v in splits.items()})
        out.properties["num_classes"] = num_classes


class FaceExampleGen(BaseComponent):
    """A face source → train/val/test TFRecords of (image, identity, id) + schema."""

    SPEC_CLASS = FaceExampleGenSpec
    EXECUTOR_CLASS = FaceExampleGenExecutor
