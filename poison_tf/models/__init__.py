"""Keras model builders, one public builder or class per file."""
