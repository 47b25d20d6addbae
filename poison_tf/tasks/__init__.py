"""Model-Garden-style Tasks: what each study trains, for the strategy-agnostic loop."""
