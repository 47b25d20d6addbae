"""The TFX-shaped DAG framework: artefacts, specs, components, runners (local, Ray), cache, lineage."""
