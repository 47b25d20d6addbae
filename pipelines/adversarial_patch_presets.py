"""The adversarial patch study's settings as data: the config dataclass (every field a flag) and
its presets (read from `pipelines/presets/adversarial_patch.toml`), kept apart from the DAG in
`pipelines/adversarial_patch.py` that reads them.
"""

from __future__ import annotations

import dataclasses

from pipelines.config_flags import (
    BATCH_HELP,
    EPOCHS_HELP,
    LR_DECAY_HELP,
    LR_DECAYS,
    LR_HELP,
    SEED_HELP,
    SEEDS_HELP,
    TARGET_CLASS_HELP,
    define_config_flags,
    setting,
)
from pipelines.image_source_config import ImageSourceConfig
from pipelines.preset_files import load_presets


@dataclasses.dataclass(frozen=True)
class PatchStudyConfig(ImageSourceConfig):
    """The adversarial patch study's settings (a preset; every field is also a flag).

    The image source's fields come from `ImageSourceConfig`; the victim's and the patch's follow.
    """

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
    target_class: int = setting(0, help=TARGET_CLASS_HELP)
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

# The presets are data: pipelines/presets/adversarial_patch.toml, with what each is for.
PRESETS = load_presets(PatchStudyConfig, "adversarial_patch")
