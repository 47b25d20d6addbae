"""Readers that turn source formats into tf.data / TFRecords, and synthetic generators."""
