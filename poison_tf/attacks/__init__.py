"""poison_tf.attacks."""
