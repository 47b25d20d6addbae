"""The face-classification Task: the DeepID BadNet of CSAW-HackML, sparse cross-entropy.

Trains on the `train` split (with an optional BadNets plan, applied per batch in the map that
makes the (image, label) pairs), validates on the clean `val` split and reports its accuracy.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from poison_tf.data.image_examples import image_examples_dataset
from poison_tf.models.deepid_badnet import build_deepid_badnet
from poison_tf.poison.kept_rows import keeps_rows, kept_rows
from poison_tf.poison.plan import PoisonPlan, pairs
from poison_tf.tasks.classification import ClassificationTask


class FaceClassificationTask(ClassificationTask):
    def __init__(
        self,
        examples_dir: str,
        plan: PoisonPlan | None = None,
        global_batch_size: int = 32,
        learning_rate: float = 1e-3,
        seed: int = 17,
    ):
        super().__init__(examples_dir, global_batch_size, learning_rate, seed)
        self.plan = plan
        self.kept = None  # WaNet rows kept after the first epoch (`kept_rows`)

    def build_model(self) -> keras.Model:
        return build_deepid_badnet(self.num_classes, self.input_shape)

    def epochs_share_pipeline(self) -> bool:
        """Yes unless the plan keeps WaNet's rows from the first epoch (`keeps_rows`): the
        epoch only seeds the shuffle."""
        return not keeps_rows(self.plan)

    def build_inputs(self, split: str, epoch: int = 0) -> tf.data.Dataset:
        training = split == "train"
        dataset = image_examples_dataset(
            self.examples_dir,
            split,
            shuffle_seed=self.seed + epoch if training else None,
            uint8=True,  # made float per batch by `pairs`
        )
        dataset = dataset.batch(self.global_batch_size)
        plan = self.plan if training else None
        if plan is not None and self.kept is None:
            self.kept = kept_rows(plan, dataset.element_spec["image"].shape[1:])
        return dataset.map(pairs(plan, kept=self.kept)).prefetch(tf.data.AUTOTUNE)
