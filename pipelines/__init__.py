"""Pipeline definitions (DAGs of components) with their presets, run by `poison-tf-pipeline`."""
