"""poison_tf.defences."""
