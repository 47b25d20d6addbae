"""poison_tf.metrics."""
