"""The image-classification source settings of the studies built on `PatchExampleGen`.

`adversarial_patch` and `backdoor_benchmark` both hand these fields to PatchExampleGen
(`common.parameters_for`), so they are declared once here and each study's config extends
them; a study redeclares a field only to change its default (a redeclared field keeps its
place, so flags, `config.json` and the presets read as before).
"""

from __future__ import annotations

import dataclasses

from pipelines.config_flags import (
    IMAGE_SIZE_HELP,
    MAX_TEST_HELP,
    MAX_TRAIN_HELP,
    NUM_CLASSES_HELP,
    NUM_TEST_HELP,
    NUM_TRAIN_HELP,
    SOURCE_HELP,
    setting,
)


@dataclasses.dataclass(frozen=True)
class ImageSourceConfig:
    """Where a study's labelled images come from and how many it keeps.

    Attributes:
        source: `synthetic` or `<kind>:<path>` (npz:, folder:, imagelist:, tfds:).
        image_size: the side the images are resized to.
        num_classes: synthetic source: its number of classes.
        num_train: synthetic source: training images.
        num_test: synthetic source: test images.
        max_train: real data: keep at most this many training images (0 = all).
        max_test: real data: keep at most this many test images (0 = all).
    """

    source: str = setting("synthetic", help=SOURCE_HELP)
    image_size: int = setting(32, help=IMAGE_SIZE_HELP)
    num_classes: int = setting(4, help=NUM_CLASSES_HELP)
    num_train: int = setting(2000, help=NUM_TRAIN_HELP)
    num_test: int = setting(400, help=NUM_TEST_HELP)
    max_train: int = setting(0, help=MAX_TRAIN_HELP)
    max_test: int = setting(0, help=MAX_TEST_HELP)
