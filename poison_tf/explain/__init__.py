"""poison_tf.explain."""
