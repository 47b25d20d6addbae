"""tf.data poisoning transforms: triggers, sample selection, label rules (pure TF ops)."""
