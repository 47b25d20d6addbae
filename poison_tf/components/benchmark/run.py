"""One cell of the benchmark: an attack at a rate, the victim it backdoors, every defence on it.

BackdoorBench's protocol (SCLBD/BackdoorBench @ f02e353): train the victim on the poisoned
training set, measure C-Acc / ASR / RA, then run each defence from the backdoored model and the
defender's resources and measure the same three on the defended model, plus DER against the
undefended one. Defender resources as there: the poisoned training set for the training-set
defences (spectral signatures, activation clustering, ABL, which then retrain or unlearn), and a
clean subset (`clean_ratio`, BackdoorBench's `ratio: 0.05`) for Neural Cleanse. The plan knows
which examples were poisoned, so every filter is also scored by precision and recall.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from poison_tf.defences import model_defences, training
from poison_tf.defences.abl import AntiBackdoorLearning
from poison_tf.metrics import backdoorbench as bb
from poison_tf.models.preact_resnet18 import build_preact_resnet18
from poison_tf.poison.benchmark_attacks import attack_plan
from poison_tf.poison.plan import PoisonPlan

DEFENCES = (*model_defences.MODEL_DEFENCES, "abl")


def check_defences(names) -> tuple[str, ...]:
    """The defence names, checked against DEFENCES.

    Args:
        names: defence names.

    Returns:
        The names as a tuple.

    Raises:
        UserInputError: an unknown defence.
    """
    return model_defences.check_names(names, DEFENCES, "--defences")


def poison_arrays(plan: PoisonPlan, images: np.ndarray, labels: np.ndarray) -> tuple:
    """The training set as the victim sees it: the plan applied in tf.data (ids = positions).

    Args:
        plan: the poison plan (ids are row positions).
        images: float images [N, H, W, 3] in [0, 1].
        labels: int labels [N].

    Returns:
        (poisoned images, poisoned labels), in row order.
    """
    data = tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": labels, "id": np.arange(len(labels), dtype=np.int64)}
    )
    out_x, out_y = [], []
    for batch in data.batch(512).map(plan.map_fn()).as_numpy_iterator():
        out_x.append(batch["image"])
        out_y.append(batch["label"])
    return np.concatenate(out_x), np.concatenate(out_y)


def _train_fresh(build: Callable[[], keras.Model], x, y, train: dict) -> keras.Model:
    return training.train(build(), x, y, **train)


def run_cell(
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
    attack: str,
    rate: float,
    defences: tuple[str, ...],
    train: dict,
    defence_params: dict,
    target: int = 0,
    width: int = 64,
    clean_ratio: float = 0.05,
    seed: int = 0,
) -> dict:
    """Runs one (attack, rate) cell; returns its JSON-able metrics, images and the plan.

    Args:
        train_data: clean training (images float [N, H, W, 3] in [0, 1], labels [N]).
        test_data: clean test images and labels.
        attack: one of `poison.benchmark_attacks.ATTACKS`.
        rate: poisoned fraction of the training set.
        defences: names from DEFENCES.
        train: keyword arguments of `defences.training.train` for the victim and retraining.
        defence_params: per defence, keyword arguments of its class / function.
        target: the attack's target class.
        width: PreAct-ResNet18 width.
        clean_ratio: share of the training set the defender holds clean (NC).
        seed: plan and training seed.

    Returns:
        {"attack", "rate_percent", "poisoned", "noise", "num_train", "rows" (one per defence),
        "plan", "images"}.
    """
    (x, y), (test_x, test_y) = train_data, test_data
    size, num_classes = x.shape[1], int(max(y.max(), test_y.max()) + 1)
    plan = attack_plan(attack, y, rate, target=target, image_size=size, seed=seed)
    px, py = poison_arrays(plan, x, y)
    bd_x, bd_y = bb.attack_test_set(test_x, test_y, plan.trigger, target)

    def build() -> keras.Model:
        return build_preact_resnet18(x.shape[1:], num_classes, width=width)

    start = time.perf_counter()
    victim = _train_fresh(build, px, py, train)
    before = bb.evaluate(victim, test_x, test_y, bd_x, bd_y, target)
    rows = [{"defence": "none", **before, "seconds": time.perf_counter() - start}]
    touched = np.union1d(plan.poisoned_ids, plan.noise_ids)
    untouched = np.setdiff1d(np.arange(len(y)), touched)
    rng = np.random.default_rng(seed)
    clean_ids = rng.choice(untouched, max(1, int(round(clean_ratio * len(y)))), replace=False)
    images = {}
    for name in defences:
        params = dict(defence_params.get(name, {}))
        start = time.perf_counter()
        extra: dict = {}
        if name in model_defences.FILTERS:
            result = model_defences.filter_training_set(name, victim, px, py, params, seed)
            keep = np.setdiff1d(np.arange(len(py)), result["removed"])
            extra = bb.filter_scores(result["removed"], plan.poisoned_ids, len(py))
            defended = _train_fresh(build, px[keep], py[keep], train)
        elif name == "nc":
            defended, extra, images["nc_trigger.png"] = model_defences.neural_cleanse(
                victim, x[clean_ids], y[clean_ids], params, seed, target
            )
        else:  # abl
            abl = AntiBackdoorLearning(
                build,
                batch_size=train.get("batch_size", 128),
                optimizer=train.get("optimizer", "sgd"),
                seed=seed,
                **params,
            )
            result = abl.run(px, py)
            defended = result["model"]
            extra = bb.filter_scores(result["isolated"], plan.poisoned_ids, len(py))
        after = bb.evaluate(defended, test_x, test_y, bd_x, bd_y, target)
        row = bb.defence_row(before, after) | extra
        rows.append({"defence": name, **row, "seconds": time.perf_counter() - start})
    return {
        "attack": attack,
        "rate_percent": rate * 100,
        "poisoned": plan.count,
        "noise": int(len(plan.noise_ids)),
        "num_train": int(len(y)),
        "rows": rows,
        "plan": plan,
        "images": images,
    }
