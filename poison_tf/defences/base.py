"""The contract every backdoor *input* detector follows, its threshold rule, and its file format.

A detector is fitted on clean validation data only (the defender never sees a trigger), gives
each input a suspicion score (higher = more suspicious) and flags inputs whose score exceeds a
threshold calibrated on clean scores. One contract lets the eval CLI, the metrics and the
reports treat the VAE, STRIP, fine-pruning and feature-space detectors alike, and answer
"class N+1" for any of them.

A fitted detector is ONE HDF5 file (`VAE.h5` by the CSAW-HackML convention): root attributes
`poison_tf_detector` (the kind), `threshold`, `input_shape` and `hyperparams` (JSON), plus the
detector's arrays and Keras models as groups (`poison_tf.defences.h5store`). `load_detector`
dispatches on the kind through a registry, so a new detector only has to register itself.
"""

from __future__ import annotations

import abc
import importlib
import json
import os
from typing import Any, ClassVar

import h5py
import numpy as np

from poison_tf.errors import UserInputError, require
from poison_tf.io.atomic import atomic_path
from poison_tf.io.safe_read import check_input_file, parse_json, require_finite_number

FORMAT_VERSION = 1
KIND_ATTR = "poison_tf_detector"
# Modules whose import registers the built-in detectors; imported lazily by `load_detector`
# because they import this module (and TensorFlow) themselves.
_BUILTIN_MODULES = (
    "poison_tf.defences.vae",
    "poison_tf.defences.strip",
    "poison_tf.defences.fine_pruning",
    "poison_tf.defences.mahalanobis",
)
_REGISTRY: dict[str, type[Detector]] = {}


def threshold_from_scores(
    clean_scores: np.ndarray, k: float | None = None, frr: float | None = None
) -> float:
    """The threshold rule: mean + k·std of clean scores (k=1 by default), or a chosen FRR.

    mean + k·std (population std, ddof=0) is the rule of the original VAE study. With `frr`,
    the threshold is the (1 - frr) linear-interpolation quantile of the clean scores, so that
    `score > threshold` rejects that fraction of the clean calibration set.

    Args:
        clean_scores: scores of clean calibration inputs.
        k: the mean + k·std rule's k.
        frr: the target false-rejection rate, in (0, 1) (instead of k).

    Returns:
        The threshold.

    Raises:
        UserInputError: no scores, NaN / inf scores, both k and frr, a non-finite k, or an frr
            outside (0, 1).
    """
    scores = np.asarray(clean_scores, dtype=np.float64).ravel()
    require(scores.size > 0, "calibrate: no clean scores were given")
    require(bool(np.all(np.isfinite(scores))), "calibrate: clean scores contain NaN or inf")
    require(k is None or frr is None, "calibrate: pass either k or frr, not both")
    if frr is not None:
        require(0.0 < frr < 1.0, f"calibrate: frr must be in (0, 1), got {frr}")
        return float(np.quantile(scores, 1.0 - frr, method="linear"))
    k = 1.0 if k is None else float(k)
    require(np.isfinite(k), f"calibrate: k must be finite, got {k}")
    return float(scores.mean() + k * scores.std())


class Detector(abc.ABC):
    """A backdoor input detector: fit on clean data, score, flag above a threshold, save/load.

    Subclasses set `kind` (the registry key written into the file), `default_calibration`
    (the keyword arguments `fit` passes to `calibrate`), and implement `fit`, `score`,
    `get_config`, `_save_state` and `_restore`.
    """

    kind: ClassVar[str] = ""
    default_calibration: ClassVar[dict[str, float]] = {"k": 1.0}

    def __init__(self) -> None:
        self.threshold: float = float("nan")
        self.input_shape: tuple[int, ...] | None = None

    # -- the detector-specific part ------------------------------------------------------
    @abc.abstractmethod
    def fit(self, clean_x: Any, clean_y: Any = None) -> Detector:
        """Fits on clean validation images [N, H, W, C] (labels optional) and calibrates.

        Args:
            clean_x: clean images [N, H, W, C] (an array or an h5py dataset: streamed in batches).
            clean_y: their labels [N], or None.

        Returns:
            The fitted detector itself.
        """

    @abc.abstractmethod
    def score(self, x: Any) -> np.ndarray:
        """Suspicion scores [N], float64; higher means more likely triggered.

        Args:
            x: images [N, H, W, C].

        Returns:
            float64 [N].
        """

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """The hyper-parameters (JSON-serialisable), stored as the `hyperparams` attribute."""

    @abc.abstractmethod
    def _save_state(self, root: h5py.Group) -> None:
        """Writes the fitted arrays / models into the open file."""

    @classmethod
    @abc.abstractmethod
    def _restore(
        cls, root: h5py.Group, config: dict[str, Any], path: str, custom_objects: dict | None
    ) -> Detector:
        """Rebuilds a fitted detector from `_save_state`'s groups and `get_config`'s dict."""

    # -- shared behaviour ----------------------------------------------------------------
    def flag(self, x: Any) -> np.ndarray:
        """Boolean [N]: True where the input is judged triggered (score > threshold).

        Args:
            x: images [N, H, W, C].

        Returns:
            bool [N].

        Raises:
            UserInputError: no threshold yet.
        """
        require(
            np.isfinite(self.threshold),
            f"{type(self).__name__}: no threshold yet; call fit() or calibrate() first",
        )
        return self.score(x) > self.threshold

    def calibrate(
        self, clean_scores: np.ndarray, k: float | None = None, frr: float | None = None
    ) -> float:
        """Sets and returns the threshold from clean scores (see `threshold_from_scores`).

        Args:
            clean_scores: scores of clean calibration inputs.
            k: the mean + k·std rule's k.
            frr: the target false-rejection rate (instead of k).

        Returns:
            The threshold.
        """
        self.threshold = threshold_from_scores(clean_scores, k=k, frr=frr)
        return self.threshold

    def _check_fitted(self) -> None:
        require(self.input_shape is not None, f"{type(self).__name__}: call fit() first")

    def save(self, path: str) -> None:
        """Writes the fitted detector to one HDF5 file, atomically (no half file on a crash).

        Args:
            path: the .h5 file.

        Raises:
            UserInputError: the detector is not fitted.
        """
        self._check_fitted()
        with atomic_path(os.fspath(path)) as tmp, h5py.File(tmp, "w") as root:
            root.attrs[KIND_ATTR] = self.kind
            root.attrs["format_version"] = FORMAT_VERSION
            root.attrs["threshold"] = float(self.threshold)
            root.attrs["input_shape"] = json.dumps([int(d) for d in self.input_shape])
            root.attrs["hyperparams"] = json.dumps(self.get_config(), sort_keys=True)
            self._save_state(root)

    @classmethod
    def load(cls, path: str, custom_objects: dict | None = None) -> Detector:
        """Loads a detector file; on a subclass, also checks that the file holds that kind.

        Args:
            path: a file `save` wrote.
            custom_objects: Keras custom objects of a stored classifier.

        Returns:
            The detector.

        Raises:
            UserInputError: a bad file, or one holding another kind of detector.
        """
        detector = load_detector(path, custom_objects=custom_objects)
        require(
            isinstance(detector, cls),
            f"{path}: holds a {detector.kind!r} detector, not a {cls.kind or cls.__name__!r} one",
        )
        return detector


def register_detector(cls: type[Detector]) -> type[Detector]:
    """Class decorator: makes `load_detector` able to rebuild files of `cls.kind`.

    Args:
        cls: a Detector subclass with a unique `kind`.

    Returns:
        `cls`.

    Raises:
        TypeError: no `kind`, or a kind already registered (a programming error).
    """
    if not cls.kind:
        raise TypeError(f"{cls.__name__} has no `kind`")
    existing = _REGISTRY.get(cls.kind)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"detector kind {cls.kind!r} is already registered by {existing}")
    _REGISTRY[cls.kind] = cls
    return cls


def registered_kinds() -> list[str]:
    """The detector kinds `load_detector` understands (importing the built-in ones first).

    Returns:
        The kinds, sorted.
    """
    _import_builtins()
    return sorted(_REGISTRY)


def _import_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def load_detector(path: str, custom_objects: dict | None = None) -> Detector:
    """Rebuilds a saved detector of any registered kind; bad files raise `UserInputError`.

    `custom_objects` is passed to Keras when a stored classifier has custom layers; Keras'
    safe mode stays on, so Lambda layers in a stored model are refused.

    Args:
        path: a file `Detector.save` wrote.
        custom_objects: Keras custom objects of a stored classifier.

    Returns:
        The fitted detector.

    Raises:
        UserInputError: not an HDF5 file, an unknown kind or format, or missing / corrupt parts.
    """
    path = check_input_file(os.fspath(path), "detector file")
    require(h5py.is_hdf5(path), f"{path}: not an HDF5 file, so not a saved poison_tf detector")
    try:
        root = h5py.File(path, "r")
    except OSError as exc:
        raise UserInputError(
            f"{path}: cannot open the HDF5 file (truncated or corrupt?): {exc}"
        ) from exc
    with root:
        try:
            require(
                KIND_ATTR in root.attrs,
                f"{path}: not a poison_tf detector file (no '{KIND_ATTR}' attribute)",
            )
            kind = _as_str(root.attrs[KIND_ATTR])
            if kind not in _REGISTRY:
                _import_builtins()
            require(
                kind in _REGISTRY,
                f"{path}: unknown detector kind {kind!r}; known kinds: "
                f"{', '.join(sorted(_REGISTRY))}",
            )
            config = parse_json(_as_str(root.attrs["hyperparams"]), f"{path}: hyperparams")
            require(isinstance(config, dict), f"{path}: hyperparams is not a JSON object")
            threshold = require_finite_number(root.attrs["threshold"], f"{path}: threshold")
            input_shape = parse_json(_as_str(root.attrs["input_shape"]), f"{path}: input_shape")
            require(
                isinstance(input_shape, list)
                and all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                        for d in input_shape),
                f"{path}: input_shape {input_shape!r} is not a list of positive sizes",
            )  # fmt: skip
            detector = _REGISTRY[kind]._restore(root, config, path, custom_objects)
            detector.threshold = threshold
            detector.input_shape = tuple(input_shape)
        except UserInputError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise UserInputError(
                f"{path}: damaged or incomplete detector file ({type(exc).__name__}: {exc})"
            ) from exc
    return detector


def _as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
