"""The components of the studies (each = spec + executor), built on `poison_tf.dag`."""
