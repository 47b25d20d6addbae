"""ModelDefence: BackdoorBench's model defences on one trained face classifier.

Kinds (`poison_tf.defences.model_defences`, the code the `backdoor_benchmark` cells run):
`spectral` (spectral signatures) and `ac` (activation clustering) filter the training split as
the model saw it (the plan's trigger stamped and labels rewritten, in tf.data as the trainer
did) by the model's penultimate features, and, when `retrain` asks for epochs, retrain a fresh
DeepID on what is left; `nc` (Neural Cleanse) reverse-engineers a trigger per class from the
clean validation split (the defender's clean data, as the input-time detectors use it), flags
outliers by MAD and unlearns them on the same split. Scored with BackdoorBench's metrics on the
test split: clean accuracy, attack success rate and robust accuracy of the model before and
after, DER and RIR; a filter's removed ids against the plan's poisoned ids (precision,
recall). Without a plan (a model whose poisoning is unknown) there is no ground truth and no
trigger: the filters' removals are counted but not scored, and only clean accuracy is measured.
"""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from poison_tf import types
from poison_tf.components.parameters import backdoor_parameters
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data.image_examples import image_examples_dataset
from poison_tf.defences import classifiers, features, model_defences, training
from poison_tf.errors import UserInputError
from poison_tf.metrics import backdoorbench as bb
from poison_tf.models.deepid_badnet import build_deepid_badnet
from poison_tf.poison.plan import PoisonPlan


def training_split(examples: str, plan: PoisonPlan | None) -> tuple[np.ndarray, ...]:
    """The train split as the trainer fed it: poisoned by `plan`.

    Args:
        examples: the examples folder.
        plan: the model's poison plan, or None.

    Returns:
        (images, labels, ids) numpy arrays.
    """
    data = image_examples_dataset(examples, "train").batch(256)
    if plan is not None:
        data = data.map(plan.batch_fn())
    parts = list(data.as_numpy_iterator())
    return tuple(np.concatenate([b[k] for b in parts]) for k in ("image", "label", "id"))


def _json(text: str, flag: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise UserInputError(f"{flag}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise UserInputError(f"{flag}: expected a JSON object, got {text!r}")
    return value


class ModelDefenceSpec(ComponentSpec):
    INPUTS = {
        "examples": types.Examples.channel(),
        "model": types.FaceModel.channel(),
        "plan": types.PoisonPlan.channel(
            optional=True,
            help="the plan the model was trained with (the filters' ground truth and the "
            "attack's trigger)",
        ),
    }
    OUTPUTS = {
        "metrics": types.Metrics.channel(
            help='metrics.json with one row per defence under "defences", and nc_trigger.png '
            "for Neural Cleanse"
        )
    }
    PARAMETERS = {
        "kinds": ExecutionParameter(
            str, default="spectral,ac,nc", help="comma list of spectral | ac | nc"
        ),
        "params": ExecutionParameter(
            str, default="{}", help="JSON {kind: {keyword: value}} of the defences"
        ),
        "retrain": ExecutionParameter(
            str,
            default="{}",
            help="JSON keyword arguments of `defences.training.train` for retraining after a "
            "filter ({} = score the filter only)",
        ),
        **backdoor_parameters(),
        "clean_images": ExecutionParameter(
            int,
            default=0,
            help="Neural Cleanse: a seeded sample of this many validation images, its reverse "
            "engineering and unlearning data (0 = all)",
        ),
        "seed": ExecutionParameter(int, default=0, help="seed of the defence and the retraining"),
    }


class ModelDefenceExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        p = exec_properties
        kinds = [k for k in p["kinds"].split(",") if k]
        model_defences.check_names(kinds, model_defences.MODEL_DEFENCES, "--kinds")
        params = _json(p["params"], "--params")
        retrain = _json(p["retrain"], "--retrain")
        if p["clean_images"] < 0:
            raise UserInputError(f"--clean_images={p['clean_images']}: must be >= 0 (0 = all)")
        examples = input_dict["examples"][0].uri
        model = types.FaceModel.load(input_dict["model"][0])
        plan = types.PoisonPlan.load_optional(input_dict.get("plan"))
        target, seed = p["target"], p["seed"]
        test_x, test_y = types.Examples.read_split(examples, "test")
        attack = bb.attack_test_set(test_x, test_y, plan.trigger, target) if plan else None

        def measure(classifier) -> dict:
            if attack is None:
                predicted = training.predict_classes(classifier, test_x)
                return {"clean_acc": bb.clean_accuracy(predicted, test_y)}
            return bb.evaluate(classifier, test_x, test_y, *attack, target)

        before = measure(model)
        out = output_dict["metrics"][0]
        train_set = feats = None
        rows = []
        for kind in kinds:
            row, defended = {"defence": kind}, None
            if kind in model_defences.FILTERS:
                if train_set is None:  # read and featurised once for both filters
                    images, labels, ids = training_split(examples, plan)
                    train_set = (images, labels.reshape(-1), ids)
                    feats = features.extract(model, images)
                images, labels, ids = train_set
                result = model_defences.filter_training_set(
                    kind, model, images, labels, params.get(kind, {}), seed, feats
                )
                removed = result["removed"]
                row |= {"num_train": len(labels), "removed": int(len(removed))}
                if plan is not None:
                    poisoned = np.flatnonzero(np.isin(ids, plan.poisoned_ids))
                    row |= bb.filter_scores(removed, poisoned, len(labels))
                if retrain.get("epochs", 0) > 0:
                    keep = np.setdiff1d(np.arange(len(labels)), removed)
                    fresh = build_deepid_badnet(
                        int(model.outputs[0].shape[-1]), classifiers.input_shape_of(model)
                    )
                    defended = training.train(
                        fresh, images[keep], labels[keep], seed=seed, **retrain
                    )
            else:
                val_x, val_y = types.Examples.read_split(
                    examples, "val", limit=p["clean_images"], seed=seed
                )
                defended, summary, image = model_defences.neural_cleanse(
                    model, val_x, val_y, params.get(kind, {}), seed, target if target >= 0 else None
                )
                row |= summary
                image = Image.fromarray(image).resize((94, 110), Image.NEAREST)
                image.save(out.path("nc_trigger.png"))
            if defended is not None:
                after = measure(defended)
                row["after"] = bb.defence_row(before, after) if attack is not None else after
            rows.append(row)
        metrics = {
            "backdoor": p["backdoor"],
            "ground_truth": plan is not None,
            "before": before,
            "defences": rows,
        }
        types.Metrics.write(out, metrics)
        out.properties.update({"kinds": ",".join(kinds), "backdoor": p["backdoor"]})


class ModelDefence(BaseComponent):
    """BackdoorBench's model defences (spectral, ac, nc) on one trained face classifier.

    One component per model rather than per defence: the model, the splits and the backdoored
    model's own scores are loaded once, and both filters read one feature extraction (in the
    demo, six small components cost more in loading and tracing than the filters themselves).
    """

    SPEC_CLASS = ModelDefenceSpec
    EXECUTOR_CLASS = ModelDefenceExecutor
