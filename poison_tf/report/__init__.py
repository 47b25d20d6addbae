"""poison_tf.report."""
