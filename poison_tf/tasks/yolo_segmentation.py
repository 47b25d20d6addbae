"""The YOLOv8-seg Task: the clean-image backdoor study's victim, trained like Ultralytics.

What it adds to the generic Task, following Ultralytics `yolo segment train` defaults:
- optimizer: AdamW, beta1 0.9, rate `round(0.002 · 5 / (4 + nc), 6)` unless given (Ultralytics'
  `optimizer=auto` for short runs), decoupled weight decay 5e-4 on kernels only (biases and
  BatchNorm excluded, as Ultralytics' parameter groups do);
- schedule: linear warm-up over max(3 epochs, 100 steps) (at most half the run), then linear
  decay to 1 % (`lr_decay="cosine"` for Ultralytics' `cos_lr`). Differences: the rate ramps per
  step from 0 for every weight (Ultralytics starts biases at 0.1 and ramps momentum too) and
  decays per step rather than per epoch;
- a weight EMA (decay 0.9999, tau 2000), used for validation and for the exported model;
- logs each loss term (box, seg, cls, dfl) besides the total, and after every validation a few
  val images with their predicted masks (TensorBoard image `predictions`);
- validation = Ultralytics `val` mAP on the whole val split (`yolo_seg_predict.validate_model`),
  logged as val_box_mAP50-95 etc.; the latest table is kept in `last_validation`.
The training inputs may be relabelled by the clean-image poisoning (`relabel`); validation
always reads the clean labels. With `init_weights` (an Ultralytics `.pt` or a `.keras`
YOLOv8-seg) the model starts from that file's weights, at its size, instead of from scratch
(with a class count other than the data's, the class layers whose shapes change start fresh,
logged; see `poison_tf.models.yolo_seg_transfer`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from absl import logging

from poison_tf.data.seg_examples import Relabel, make_dataset, read_seg_schema
from poison_tf.errors import require
from poison_tf.models.yolo_seg_loss import YoloSegLoss
from poison_tf.models.yolo_seg_predict import SegPredictor, validate_model
from poison_tf.models.yolo_v8_seg import build_yolo_v8_seg
from poison_tf.report.seg_samples import log_prediction_images, sample_batch
from poison_tf.train.schedules import WarmupDecay, warmup_steps_for
from poison_tf.train.task import Task, as_float32

LOSS_TERMS = ("box", "seg", "cls", "dfl")
_SUMMARY_NAMES = {"precision": "P", "recall": "R", "mAP50": "mAP50", "mAP50-95": "mAP50-95"}


def ultralytics_learning_rate(num_classes: int) -> float:
    """Ultralytics' `optimizer=auto` AdamW rate for runs under 10k iterations."""
    return round(0.002 * 5 / (4 + num_classes), 6)


def summary_names(summary: dict[str, float]) -> dict[str, float]:
    """SegValidator.summary keys (`metrics/mAP50(B)`) → TensorBoard-friendly `box_mAP50`."""
    out = {}
    for key, value in summary.items():
        if key.startswith("metrics/"):
            name, kind = key[len("metrics/") : -3], key[-2]
            out[f"{'box' if kind == 'B' else 'mask'}_{_SUMMARY_NAMES.get(name, name)}"] = value
        else:
            out[key] = value
    return out


class YoloSegmentationTask(Task):
    ema_decay = 0.9999
    ema_tau = 2000.0

    def __init__(
        self,
        examples_dir: str,
        size: str = "n",
        global_batch_size: int = 16,
        learning_rate: float | None = None,
        seed: int = 17,
        epochs: int = 0,
        warmup_epochs: float = 3.0,
        min_warmup_steps: int = 100,
        lr_decay: str = "linear",
        final_lr_fraction: float = 0.01,
        weight_decay: float = 5e-4,
        max_instances: int = 100,
        augment=None,
        relabel: Relabel | None = None,
        ema: bool = True,
        validate_map: bool = True,
        log_images: int = 4,
        xla: bool = False,
        init_weights: str | None = None,
        trust_pickle: bool = False,
    ):
        self.schema = read_seg_schema(examples_dir)
        self.names = list(self.schema["label"]["names"])
        super().__init__(
            learning_rate=learning_rate or ultralytics_learning_rate(len(self.names)), seed=seed
        )
        require(global_batch_size >= 1, f"--global_batch_size={global_batch_size}: must be >= 1")
        self.examples_dir, self.size, self.global_batch_size = examples_dir, size, global_batch_size
        self.epochs, self.warmup_epochs, self.min_warmup_steps = (
            epochs,
            warmup_epochs,
            min_warmup_steps,
        )
        self.lr_decay, self.final_lr_fraction = lr_decay, final_lr_fraction
        self.weight_decay, self.max_instances = weight_decay, max_instances
        self.augment, self.relabel, self.validate_map = augment, relabel, validate_map
        self.init_weights, self.trust_pickle = init_weights or None, trust_pickle
        if not ema:
            self.ema_decay = 0.0
        self.loss_fn = YoloSegLoss(len(self.names), self.image_size, trim_padding=not xla)
        self.last_validation = None  # the SegValidator of the latest validation
        self._predictor: SegPredictor | None = None  # traced once, reused every epoch
        self.log_images = log_images  # val images drawn with predictions into TensorBoard (0: none)
        self._samples = None

    @property
    def image_size(self) -> int:
        return int(self.schema["image_size"][0])

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def num_examples(self, split: str) -> int:
        return int(self.schema["splits"][split]["count"])

    def steps_per_epoch(self) -> int:
        """Training steps per epoch (the last partial batch is dropped when training)."""
        return max(self.num_examples("train") // self.global_batch_size, 1)

    def build_model(self) -> keras.Model:
        if not self.init_weights:
            return build_yolo_v8_seg(self.num_classes, self.image_size, self.size)
        from poison_tf.io.seg_init_weights import load_init_model
        from poison_tf.models.yolo_seg_transfer import initialise_from

        source = load_init_model(self.init_weights, self.trust_pickle)
        if source.size != self.size:
            logging.info(
                "--init_weights: model size %r (the file's), not %r", source.size, self.size
            )
            self.size = source.size
        model = build_yolo_v8_seg(self.num_classes, self.image_size, source.size, source.num_masks)
        return initialise_from(model, source, self.init_weights)

    def learning_rate_schedule(self):
        """The warm-up + decay schedule, or the constant rate when `epochs` is unknown."""
        if not self.epochs:
            return self.learning_rate
        total = self.epochs * self.steps_per_epoch()
        warmup = warmup_steps_for(self.steps_per_epoch(), self.warmup_epochs, self.min_warmup_steps)
        return WarmupDecay(
            self.learning_rate,
            total,
            min(warmup, total // 2),
            self.lr_decay,
            self.final_lr_fraction,
        )

    def build_optimizer(self) -> keras.optimizers.Optimizer:
        optimizer = keras.optimizers.AdamW(
            self.learning_rate_schedule(), weight_decay=self.weight_decay, beta_1=0.9, beta_2=0.999
        )
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
        return optimizer

    def build_inputs(self, split: str, epoch: int = 0) -> tf.data.Dataset:
        training = split == "train"
        return make_dataset(
            self.examples_dir,
            split,
            self.global_batch_size,
            training=training,
            seed=self.seed,
            epoch=epoch,
            max_instances=self.max_instances,
            augment=self.augment if training else False,
            relabel=self.relabel if training else None,
        )

    def build_losses(self, labels, outputs) -> dict:
        """The loss terms (each this replica's share of the global batch's value) and `total`."""
        return self.loss_fn(labels, outputs)

    def train_step(self, inputs, model: keras.Model, optimizer: keras.optimizers.Optimizer) -> dict:
        features, labels = inputs
        with tf.GradientTape() as tape:
            outputs = as_float32(model(features["images"], training=True))
            terms = self.build_losses(labels, outputs)
            loss = terms["total"]
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss) if hasattr(optimizer, "scale_loss") else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss, **{f"{name}_loss": terms[name] for name in LOSS_TERMS}}

    def validation_metrics(self, model: keras.Model) -> dict | None:
        """Ultralytics `val` metrics on the whole val split (None: the loop's mean losses)."""
        if not self.validate_map:
            return None
        if self._predictor is None or self._predictor.model is not model:
            self._predictor = SegPredictor(model)
        self.last_validation = validate_model(self._predictor, self.build_inputs("val"), self.names)
        if self.log_images:
            if self._samples is None:
                self._samples = sample_batch(self.examples_dir, self.log_images)
            log_prediction_images(model, *self._samples, self.names)
        return summary_names(self.last_validation.summary())

    def validation_step(self, inputs, model: keras.Model) -> dict:
        features, labels = inputs
        outputs = as_float32(model(features["images"], training=False))
        terms = self.build_losses(labels, outputs)
        batch = tf.shape(features["images"])[0]
        return {f"{name}_loss": tf.fill([batch], terms[name]) for name in ("total", *LOSS_TERMS)}
