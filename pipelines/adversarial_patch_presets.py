"""The adversarial patch study's settings as data: the config dataclass (every field a flag) and
its presets, kept apart from the DAG in `pipelines/adversarial_patch.py` that reads them.
"""

from __future__ import annotations

import dataclasses

from pipelines.config_flags import (
    BATCH_HELP,
    EPOCHS_HELP,
    IMAGE_SIZE_HELP,
    LR_DECAY_HELP,
    LR_DECAYS,
    LR_HELP,
    NUM_TEST_HELP,
    NUM_TRAIN_HELP,
    SEED_HELP,
    SEEDS_HELP,
    SOURCE_HELP,
    define_config_flags,
    setting,
)


@dataclasses.dataclass(frozen=True)
class PatchStudyConfig:
    """The adversarial patch study's settings (a preset; every field is also a flag)."""

    source: str = setting("synthetic", help=SOURCE_HELP)
    image_size: int = setting(32, help=IMAGE_SIZE_HELP)
    num_classes: int = setting(4, help="Synthetic source: number of classes.")
    num_train: int = setting(2000, help=NUM_TRAIN_HELP)
    num_test: int = setting(400, help=NUM_TEST_HELP)
    max_train: int = setting(0, help="Real data: keep at most N training images (0 = all).")
    max_test: int = setting(0, help="Real data: keep at most N test images (0 = all).")
    model: str | None = setting(
        None,
        help="A Keras classifier file (.h5 / .keras) to attack instead of training one.",
        allow_override=True,
    )
    victim_model: str = setting(
        "", help="An imported classifier (.keras from poison-tf-import) to attack; same as --model."
    )
    unsafe_deserialization: bool = setting(
        False,
        help="Allow Lambda and custom layers in --model (runs code from the file).",
        allow_override=True,
    )
    arch: str = setting(
        "small",
        help="Victim trained here: small residual CNN or ResNet50.",
        choices=("small", "resnet50"),
    )
    weights: str = setting("", help="ResNet50: local weights file to start from.")
    continues: str = setting(
        "",
        flag=False,
        help="A preset whose victim this one starts from: --weights is then required.",
    )
    filters: int = setting(16, help="Small victim: filters of the stem (its width).")
    pooling: str = setting(
        "avg", help="Small victim: global avg or max pooling.", choices=("avg", "max")
    )
    flip: bool = setting(False, help="Random left-right flips while training the victim.")
    epochs: int = setting(6, help=EPOCHS_HELP)
    global_batch_size: int = setting(64, help=BATCH_HELP)
    learning_rate: float = setting(3e-3, help=LR_HELP)
    lr_decay: str = setting("constant", help=LR_DECAY_HELP, choices=LR_DECAYS)
    seed: int = setting(0, help=SEED_HELP)
    target_class: int = setting(0, help="Target class id of the attack (-1 = untargeted).")
    patch_fraction: float = setting(
        0.15, help="Share of the image area the patch covers, in (0, 1)."
    )
    patch_cells: int = setting(10, help="k: the patch is k×k uniform-colour cells.")
    patch_areas: tuple = setting(
        (5.0, 10.0, 15.0, 20.0), help="Area sweep in percent of the image, e.g. 5,10,15,20."
    )
    patch_steps: int = setting(200, help="Optimisation steps per patch.")
    patch_batch_size: int = setting(32, help="Images per optimisation step.")
    patch_optimizer: str = setting(
        "adam", help="adam, or the study's per-cell signed step.", choices=("adam", "signed")
    )
    patch_learning_rate: float = setting(0.05, help="Step size of the patch optimiser.")
    patch_lr_decay: str = setting(
        "constant",
        help="Step-size decay of the patch optimiser.",
        choices=("constant", "cosine"),
    )
    patch_loss: str = setting(
        "ce",
        help="Patch loss: cross-entropy or the Carlini-Wagner margin.",
        choices=("ce", "margin"),
    )
    eot: bool = setting(
        False, help="Expectation over transformations (rotation, scale, brightness, contrast)."
    )
    eval_eot: bool = setting(
        True,
        help="Also evaluate every patch under the EOT transformations, beside plain placement.",
    )
    keep_clear: str = setting("", help="y0,x0,y1,x1 pixel box the patch never covers.")
    gradcam_layer: str = setting("", help="Grad-CAM feature layer (default: the last conv layer).")
    optimise_images: int = setting(
        2000, help="Training images the patch is optimised on (a seeded sample)."
    )
    eval_images: int = setting(0, help="Test images the patches are evaluated on (0 = all).")
    explain_images: int = setting(4, help="Test images shown in the Grad-CAM figure.")
    seeds: int = setting(1, help=SEEDS_HELP)

    @property
    def fractions(self) -> list[float]:
        """The sweep's area fractions, the main patch's among them, sorted."""
        return sorted(
            {round(float(a) / 100, 6) for a in self.patch_areas} | {round(self.patch_fraction, 6)}
        )


define_config_flags(PatchStudyConfig)

PRESETS = {
    # Under 3.5 minutes on 2 CPU cores: 4 procedural classes at 32 px, a small residual CNN.
    "demo": PatchStudyConfig(
        patch_cells=6,
        patch_steps=200,
        num_train=1600,
        num_test=400,
        epochs=5,
        pooling="max",
        optimise_images=800,
    ),
    # The real-data study: CIFAR-10 (20k train / 10k test, 32 px) from ../shared, ResNet50 trained here
    # (sized for a GPU), 10×10 cells at 15 %, targeted at class 0 (airplane). At 32 px a 5 % patch is
    # 7 px, finer than 10 cells, so the sweep starts at 10 %.
    "cifar10": PatchStudyConfig(
        source="npz:../shared/datasets/cifar10-test-train20k",
        num_classes=10,
        arch="resnet50",
        flip=True,
        epochs=30,
        global_batch_size=128,
        learning_rate=1e-3,
        lr_decay="cosine",
        patch_areas=(10.0, 15.0, 20.0, 25.0),
        patch_steps=1000,
        patch_batch_size=64,
        optimise_images=5000,
        eval_images=2000,
        explain_images=6,
    ),
    # ResNet50 itself sized for ~40 CPU minutes: CIFAR-10 upscaled to 48 px (so a 5 % patch is 11 px,
    # enough for 10 cells), 12 epochs of batch 64 with a cosine-decayed rate (a constant rate left a
    # 5-epoch victim that never predicted the target class), 200 patch steps of 32 images per area.
    "cifar10_resnet50_cpu": PatchStudyConfig(
        source="npz:../shared/datasets/cifar10-test-train20k",
        image_size=48,
        num_classes=10,
        arch="resnet50",
        flip=True,
        epochs=12,
        global_batch_size=64,
        learning_rate=1e-3,
        lr_decay="cosine",
        patch_steps=200,
        patch_batch_size=32,
        optimise_images=5000,
        eval_images=2000,
        explain_images=6,
    ),
    # The 48-px victim above carried to 224 px, the original study's input size (progressive resizing:
    # ResNet50's weights do not depend on the input size, only its last feature map does, 2×2 at 48 px
    # and 7×7 at 224 px). Pass the 48-px victim with --weights (its run's victim.keras). One epoch at
    # 224 px took 37 min on 2 cores; validation and evaluation use 2000 seeded test images (a 10k
    # pass at 224 px costs 7 CPU minutes); the patch uses the Carlini-Wagner margin loss with a
    # cosine-decayed step, 300 steps. Measured: clean 0.663, 0.407 targeted at 15 % (RESULTS.md).
    "cifar10_resnet50_224_cpu": PatchStudyConfig(
        source="npz:../shared/datasets/cifar10-test-train20k",
        image_size=224,
        num_classes=10,
        arch="resnet50",
        flip=True,
        max_test=2000,
        epochs=1,
        global_batch_size=32,
        learning_rate=3e-4,
        lr_decay="cosine",
        patch_steps=300,
        patch_batch_size=32,
        patch_loss="margin",
        patch_lr_decay="cosine",
        optimise_images=4000,
        eval_images=1000,
        explain_images=6,
        continues="cifar10_resnet50_cpu",
    ),
    # The same study sized for a CPU: the small residual CNN (global average pooling, like ResNet50).
    "cifar10_small": PatchStudyConfig(
        source="npz:../shared/datasets/cifar10-test-train20k",
        num_classes=10,
        filters=32,
        flip=True,
        epochs=10,
        global_batch_size=128,
        learning_rate=2e-3,
        patch_areas=(10.0, 15.0, 20.0, 25.0),
        patch_steps=400,
        patch_batch_size=64,
        optimise_images=5000,
        eval_images=2000,
        explain_images=6,
    ),
    # A real ImageNet victim: the imported EfficientNet-Lite0 (`poison-tf-import
    # --source=efficientnet_lite0` writes models/efficientnet_lite0.keras; any imported classifier
    # via --victim_model) at its native 224 px, on the 1300 ImageNet validation images of ../shared
    # split by seed (80 % optimise, 20 % evaluate, never the same images), targeted at French horn
    # (566) like the original study, 10×10 cells, EOT while optimising and evaluating.
    "imagenet": PatchStudyConfig(
        source="imagelist:../shared/datasets/ilsvrc2012-val-1300",
        image_size=224,
        num_classes=1000,
        model="models/efficientnet_lite0.keras",
        target_class=566,
        patch_areas=(5.0, 10.0, 15.0, 20.0, 25.0),
        patch_steps=300,
        patch_batch_size=16,
        patch_learning_rate=0.05,
        patch_lr_decay="cosine",
        eot=True,
        optimise_images=0,
        eval_images=0,
        explain_images=6,
    ),
}
