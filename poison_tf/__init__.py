"""poison_tf: backdoor and adversarial-patch studies end to end in TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"
