"""Small file-system helpers: atomic writes, JSON, fingerprints."""
