"""The grid adversarial patch: classifier examples, the victim (trained or imported), the
patch optimiser, its evaluation and Grad-CAM, and the report."""
