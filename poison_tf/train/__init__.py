"""Strategy resolution, the strategy-agnostic training loop, checkpoints."""
