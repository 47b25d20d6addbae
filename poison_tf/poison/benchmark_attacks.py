"""BackdoorBench's attacks as poison plans: BadNets, Blended, WaNet and SIG with their defaults.

Each attack is (trigger, label rule, which examples) exactly as SCLBD/BackdoorBench @ f02e353 sets
it up, so a row of our table means the same attack as a row of theirs:

- `badnet`: a 3×3 white square in the bottom-right corner, 0 px from the edges
  (`resource/badnet/generate_white_square.py`: `square_size 3, distance_to_right 0,
  distance_to_bottom 0`); all-to-one; train ids drawn from *all* classes
  (`generate_single_target_attack_train_poison_index`: "all2one non-clean-label case NO NEED TO
  AVOID target class img").
- `blended`: alpha 0.2 at train and test time (`config/attack/blended/default.yaml`) over a
  fixed noise pattern (their Hello-Kitty picture is not shipped); all-to-one.
- `wanet`: k 4, s 0.5, grid_rescale 1, and `cross_ratio` 2 noise-mode examples per poisoned one
  (`config/attack/wanet/default.yaml`), drawn from the examples left; all-to-one.
- `sig`: delta 40, f 6 (`config/attack/sig/default.yaml`); clean-label: the round(rate·N)
  stamped examples are drawn from the target class only, N being the whole training set ("poisoning
  ratio is ALWAYS defined as number of poisoning samples / number of all samples", `attack/sig.py`).

The attack *test* set is every non-target test image, triggered and labelled with the target
(`train=False` branch of the same function), see `poison_tf.metrics.backdoorbench`.
"""

from __future__ import annotations

import numpy as np

from poison_tf.errors import UserInputError
from poison_tf.poison import label_rules
from poison_tf.poison.plan import PoisonPlan
from poison_tf.poison.selection import poison_count, select_examples
from poison_tf.poison.triggers import make_trigger

ATTACKS = ("badnet", "blended", "wanet", "sig")
DEFAULTS = {
    "badnet": {"name": "point", "size": 3, "color": (1.0, 1.0, 1.0), "margin": 0},
    "blended": {"name": "blend", "alpha": 0.2},
    "wanet": {"name": "wanet", "k": 4, "s": 0.5, "grid_rescale": 1.0},
    "sig": {"name": "sig", "delta": 40.0, "frequency": 6.0},
}
WANET_CROSS_RATIO = 2.0


def check_attack(name: str) -> str:
    """The attack's name, checked against ATTACKS.

    Args:
        name: an attack name (badnet, blended, wanet, sig).

    Returns:
        `name`.

    Raises:
        UserInputError: an unknown attack.
    """
    if name not in ATTACKS:
        raise UserInputError(f"unknown attack {name!r}; choose from {', '.join(ATTACKS)}")
    return name


def attack_trigger(name: str, image_size: int, seed: int = 0, **overrides):
    """The attack's trigger for `image_size`-px square images, BackdoorBench defaults + overrides.

    Args:
        name: the attack (see ATTACKS).
        image_size: side of the square images.
        seed: seeds the pattern (blended) or the warp field (wanet).
        **overrides: trigger parameters replacing BackdoorBench's.

    Returns:
        The trigger (a `Trigger`, `WarpTrigger` or `SignalTrigger`).

    Raises:
        UserInputError: an unknown attack, bad trigger parameters, or a trigger larger than the
            images.
    """
    params = dict(DEFAULTS[check_attack(name)]) | overrides
    trigger_name = params.pop("name")
    if trigger_name == "wanet":
        params |= {"size": image_size, "seed": seed}
    elif trigger_name == "blend":
        params |= {"size": image_size, "seed": seed}
    trigger = make_trigger(trigger_name, **params)
    trigger.check_fits(image_size, image_size, where=f"attack {name}")
    return trigger


def attack_plan(
    name: str,
    labels: np.ndarray,
    rate: float,
    target: int = 0,
    image_size: int = 32,
    seed: int = 0,
    cross_ratio: float = WANET_CROSS_RATIO,
    **overrides,
) -> PoisonPlan:
    """The poison plan of attack `name` on a training set with `labels` (ids are positions).

    Args:
        name: one of ATTACKS.
        labels: int class labels of the training set, in id order.
        rate: poisoned share of the whole training set, a fraction in (0, 1].
        target: the attack's target class (BackdoorBench's `attack_target`, 0).
        image_size: side of the square images.
        seed: selection and trigger seed.
        cross_ratio: WaNet noise-mode examples per poisoned example.
        **overrides: trigger parameters replacing the published defaults (e.g. s=1.0).

    Returns:
        The plan; its `poisoned_ids` are the ground truth a training-set filter is scored on.
    """
    labels = np.asarray(labels, np.int64)
    trigger = attack_trigger(name, image_size, seed, **overrides)
    total = len(labels)
    if name == "sig":
        candidates = np.flatnonzero(labels == target)
        if len(candidates) == 0:
            raise UserInputError(
                f"attack sig is clean-label: the training set has no image of target class "
                f"{target} to stamp"
            )
        rule = label_rules.clean_label(target)
    else:
        candidates = np.arange(total, dtype=np.int64)
        rule = label_rules.all_to_one(target)
    ids = select_examples(candidates, rate, seed, num_examples=total)
    noise = np.zeros(0, np.int64)
    if name == "wanet" and cross_ratio > 0:
        rest = np.setdiff1d(np.arange(total), ids)
        count = min(len(rest), int(poison_count(total, rate) * cross_ratio))
        rng = np.random.default_rng(seed + 1)
        noise = np.sort(rng.choice(rest, size=count, replace=False)).astype(np.int64)
    return PoisonPlan(trigger, rule, ids, total, rate, seed, noise_ids=noise)
