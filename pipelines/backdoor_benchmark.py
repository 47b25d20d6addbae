"""Pipeline `backdoor_benchmark`: BackdoorBench's attacks × defences on a PreAct-ResNet18, its metrics.

PatchExampleGen (synthetic classes, the CIFAR-10 npz or a tfds set) → one BenchmarkCell per
(attack, poison rate): plan (BadNets, Blended, WaNet, SIG with BackdoorBench's defaults, target 0)
→ victim → spectral signatures, activation clustering, Neural Cleanse, ABL → C-Acc / ASR / RA /
DER → BenchmarkReport, a leaderboard laid out like BackdoorBench's with their published CIFAR-10
PreAct-ResNet18 rows beside ours. Protocol: SCLBD/BackdoorBench @ f02e353.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from pipelines import common
from pipelines.config_flags import (
    AUGMENT_HELP,
    BATCH_HELP,
    DEFENCE_PARAMS_HELP,
    DEFENCES_HELP,
    EPOCHS_HELP,
    LR_HELP,
    NUM_CLASSES_HELP,
    NUM_TEST_HELP,
    RATES_HELP,
    SEED_HELP,
    TARGET_CLASS_HELP,
    define_config_flags,
    setting,
)
from pipelines.image_source_config import ImageSourceConfig
from pipelines.preset_files import load_presets
from poison_tf.components.benchmark.benchmark_cell import BenchmarkCell
from poison_tf.components.benchmark.benchmark_report import BenchmarkReport
from poison_tf.components.benchmark.run import check_defences
from poison_tf.components.patch.patch_example_gen import PatchExampleGen
from poison_tf.dag import Pipeline
from poison_tf.poison.benchmark_attacks import check_attack
from poison_tf.poison.selection import check_rate_percent

NAME = "backdoor_benchmark"


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig(ImageSourceConfig):
    """The backdoor benchmark's settings (a preset; every field is also a flag).

    The image source's fields come from `ImageSourceConfig` (here 10 classes and 500 test images
    by default); the attacks', the victim's and the defences' follow.
    """

    num_classes: int = setting(10, help=NUM_CLASSES_HELP)
    num_test: int = setting(500, help=NUM_TEST_HELP)
    attacks: tuple = setting(
        ("badnet", "blended", "wanet", "sig"),
        help="backdoor_benchmark: attacks, from badnet,blended,wanet,sig.",
    )
    defences: tuple = setting(
        ("spectral", "ac", "nc", "abl"),
        help=DEFENCES_HELP,
    )
    rates: tuple = setting((10.0, 1.0), help=RATES_HELP)
    target_class: int = setting(0, help=TARGET_CLASS_HELP)
    width: float = setting(64, help="PreAct-ResNet18 width (channels of the first stage).")
    epochs: int = setting(100, help=EPOCHS_HELP)
    global_batch_size: int = setting(128, help=BATCH_HELP)
    learning_rate: float = setting(0.01, help=LR_HELP)
    optimizer: str = setting("sgd", help="Victim optimiser: sgd or adam.", choices=("sgd", "adam"))
    augment: bool = setting(True, help=AUGMENT_HELP)
    clean_ratio: float = setting(0.05, help="The defender's clean share of the training set.")
    seed: int = setting(0, help=SEED_HELP)
    defence_params: dict = setting(default_factory=dict, flag=False, help=DEFENCE_PARAMS_HELP)


define_config_flags(BenchmarkConfig)

# The presets are data: pipelines/presets/backdoor_benchmark.toml, with what each is for.
PRESETS = load_presets(BenchmarkConfig, NAME)


def validate(config: BenchmarkConfig) -> BenchmarkConfig:
    """Checks the benchmark config before anything runs; returns it with typed values.

    Raises:
        UserInputError: a bad value, named by its flag.
    """
    for name in config.attacks:
        check_attack(name)
    check_defences(config.defences)
    if not config.attacks or not config.rates:
        raise common.UserInputError("--attacks and --rates: give at least one of each")
    rates = tuple(float(r) for r in config.rates)
    for rate in rates:
        check_rate_percent(rate, "--rates")
    if config.width < 1 or config.width != int(config.width):
        raise common.UserInputError(f"--width={config.width}: a whole number of channels >= 1")
    if config.optimizer not in ("sgd", "adam"):
        raise common.UserInputError(f"optimizer {config.optimizer!r}: sgd or adam")
    return dataclasses.replace(config, rates=rates, width=int(config.width))


def build(config: BenchmarkConfig, root: str) -> tuple[Pipeline, str]:
    """The benchmark DAG for `config` under `<root>/.pipeline`, and its report's id."""
    gen = PatchExampleGen(**common.parameters_for(PatchExampleGen, config))
    train = {
        "epochs": config.epochs,
        "learning_rate": config.learning_rate,
        "batch_size": config.global_batch_size,
        "seed": config.seed,
        "with_augment": config.augment,
        "optimizer": config.optimizer,
    }
    cells = [
        BenchmarkCell(
            f"{attack}_{rate:g}",
            examples=gen.outputs["examples"],
            attack=attack,
            rate_percent=rate,
            defences=",".join(config.defences),
            train=json.dumps(train, sort_keys=True),
            defence_params=json.dumps(
                {k: v for k, v in config.defence_params.items() if k in config.defences},
                sort_keys=True,
            ),
            target=config.target_class,
            width=config.width,
            clean_ratio=config.clean_ratio,
            seed=config.seed,
        )
        for attack in config.attacks
        for rate in config.rates
    ]
    settings = (
        f"Data: `{config.source}`"
        + (
            f" ({config.num_classes} classes, {config.num_train} train / {config.num_test} test)"
            if config.source == "synthetic"
            else f" (at most {config.max_train or 'all'} train / {config.max_test or 'all'} test)"
        )
        + f", {config.image_size} px. Victim: PreAct-ResNet18 width {config.width}, "
        f"{config.optimizer} lr {config.learning_rate:g}, {config.epochs} epochs, batch "
        f"{config.global_batch_size}, augmentation {'on' if config.augment else 'off'}, seed "
        f"{config.seed}. Attacks all-to-one to class {config.target_class} (SIG clean-label), rates "
        f"{', '.join(f'{r:g}' for r in config.rates)} %. Defender's clean share "
        f"{config.clean_ratio:g}. Defences: "
        + "; ".join(f"{k} {config.defence_params.get(k, {})}" for k in config.defences)
        + "."
    )
    report = BenchmarkReport(metrics=[c.outputs["metrics"] for c in cells], settings=settings)
    return Pipeline(NAME, [gen, *cells, report], os.path.join(root, ".pipeline")), report.id


def run(preset: str, output_dir: str) -> str:
    """Runs `preset` with the given flags; returns the path of report.md."""
    return common.run_study(sys.modules[__name__], preset, output_dir)
