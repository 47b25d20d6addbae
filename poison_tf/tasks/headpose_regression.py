"""The head-pose regression Task: ResNet18 → (yaw, pitch, roll), L1 loss, optional BadNets plan.

The poison plan is applied per batch inside the map that turns examples into (image, label)
pairs (`poison_tf.poison.plan.pairs`), so a poisoned input pipeline has no stage a clean one
lacks (benchmarks/poison_overhead.py).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.errors import UserInputError
from poison_tf.models.resnet18_regressor import build_resnet18_regressor
from poison_tf.poison.kept_rows import keeps_rows, kept_rows
from poison_tf.poison.label_rules import LabelRule
from poison_tf.poison.plan import PoisonPlan, pairs, stamp_all
from poison_tf.poison.triggers import Trigger
from poison_tf.train.schedules import adam_over_run
from poison_tf.train.task import Task


def l1_per_example(labels: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:
    """The study's loss: the average of the three absolute angle errors, per example.

    Args:
        labels: [B, 3] true angles in degrees.
        outputs: [B, 3] predicted angles in degrees.

    Returns:
        [B] float32 mean absolute error of each example.
    """
    return tf.reduce_mean(
        tf.abs(tf.cast(labels, tf.float32) - tf.cast(outputs, tf.float32)), axis=-1
    )


def copy_weights(source: keras.Model, model: keras.Model) -> None:
    """Copies `source`'s weights into `model`, which must have the same architecture.

    Args:
        source: the trained model to start from.
        model: the freshly built model that receives the weights.

    Raises:
        UserInputError: the two models' weights differ in number or shape (e.g. another width).
    """
    theirs, ours = source.get_weights(), model.get_weights()
    if [w.shape for w in theirs] != [w.shape for w in ours]:
        raise UserInputError(
            f"init model {source.name!r} does not match the regressor being trained "
            f"({len(theirs)} vs {len(ours)} weight arrays, or other shapes): same width and "
            "input size needed"
        )
    model.set_weights(theirs)


class HeadPoseRegressionTask(Task):
    """Training and evaluation of the ResNet18 head-pose regressor on an `Examples` folder.

    Args:
        examples_dir: the examples (image, 3 angles) written by the example generator.
        plan: the BadNets poison plan applied to the training split (None: clean training).
        width: ResNet18 width multiplier of stages 2-4.
        global_batch_size: batch size over all replicas.
        learning_rate: Adam's peak rate (cosine decay over `epochs` when known).
        seed: seed of the data order (per epoch: seed + epoch).
        epochs: the run's length, for the learning-rate schedule (0: constant rate).
        backbone_weights: a pretrained torchvision-layout ResNet18 (.pth or .keras), or ''.
        init_model: a trained head-pose `.keras` to start from (the finetune protocol), or ''.
    """

    def __init__(
        self,
        examples_dir: str,
        plan: PoisonPlan | None = None,
        width: float = 1.0,
        global_batch_size: int = 32,
        learning_rate: float = 1e-3,
        seed: int = 17,
        epochs: int = 0,
        backbone_weights: str = "",
        init_model: str = "",
    ):
        super().__init__(learning_rate=learning_rate, seed=seed)
        self.backbone_weights = backbone_weights
        self.init_model = init_model
        self.epochs = epochs
        self.examples_dir = examples_dir
        self.schema = read_schema(examples_dir)
        self.plan = plan
        self.kept = None  # WaNet rows kept after the first epoch (`kept_rows`)
        self.width = width
        self.global_batch_size = global_batch_size

    @property
    def input_size(self) -> int:
        return int(self.schema["image_size"][0])

    def num_examples(self, split: str) -> int:
        return int(self.schema["splits"][split]["count"])

    def build_model(self) -> keras.Model:
        """The regressor: from scratch, on a pretrained backbone, or a copy of `init_model`.

        `init_model` (a trained head-pose `.keras`, e.g. the clean baseline) is the poisoned
        fine-tuning protocol: the poisoned model starts from the clean one's weights. Its
        weights are copied into a freshly built model (not the loaded object) so the trained
        model is saved with the same architecture and name as every other victim.
        """
        if self.backbone_weights:  # pretrained torchvision-layout ResNet18, final layer replaced
            from poison_tf.models.pretrained_regressor import build_pretrained_resnet18_regressor

            model = build_pretrained_resnet18_regressor(self.input_size, self.backbone_weights)
        else:
            model = build_resnet18_regressor(self.input_size, self.width)
        if self.init_model:
            copy_weights(keras.models.load_model(self.init_model, compile=False), model)
        return model

    def epochs_share_pipeline(self) -> bool:
        """Yes unless the plan keeps WaNet's rows from the first epoch (`keeps_rows`): the
        epoch only seeds the shuffle."""
        return not keeps_rows(self.plan)

    def build_inputs(self, split: str, epoch: int = 0) -> tf.data.Dataset:
        training = split == "train"
        source = "train" if training else "test"
        seed = self.seed + epoch if training else None
        dataset = image_examples_dataset(self.examples_dir, source, shuffle_seed=seed, uint8=True)
        dataset = dataset.batch(self.global_batch_size)
        plan = self.plan if training else None
        if plan is not None and self.kept is None:
            self.kept = kept_rows(plan, dataset.element_spec["image"].shape[1:])
        return dataset.map(pairs(plan, kept=self.kept)).prefetch(tf.data.AUTOTUNE)

    def build_losses(self, labels, outputs) -> tf.Tensor:
        """The per-example L1 loss (`l1_per_example`)."""
        return l1_per_example(labels, outputs)

    def build_optimizer(self) -> keras.optimizers.Optimizer:
        """Adam; with `epochs` known, its rate follows a cosine decay to 5 % over the run.

        A constant rate left the final-epoch validation MAE of a full ResNet18 jumping between
        8.6 and 19 degrees from one epoch to the next (64-px synthetic heads, 8 epochs); the
        evaluated model is the last one, so the schedule makes the tables reproducible.
        """
        steps_per_epoch = -(-self.num_examples("train") // self.global_batch_size)
        return adam_over_run(self.learning_rate, self.epochs, steps_per_epoch)

    def triggered_test_inputs(self, trigger: Trigger, rule: LabelRule) -> tf.data.Dataset:
        """The whole test set with the trigger stamped and the attack target as label.

        Args:
            trigger: the trigger stamped on every test image.
            rule: gives the attack's target label.

        Returns:
            Batches of (triggered images, target labels).
        """
        dataset = image_examples_dataset(self.examples_dir, "test").batch(self.global_batch_size)
        dataset = dataset.map(stamp_all(trigger, rule))
        return dataset.map(lambda e: (e["image"], e["label"])).prefetch(tf.data.AUTOTUNE)
