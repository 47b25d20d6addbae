"""Backdoor input detection on faces (CSAW-HackML): face examples, the DeepID BadNet's
training, the detectors' fitting and evaluation (FRR / FAR / ROC-AUC), and the report."""
