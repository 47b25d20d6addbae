"""BadNets on head-pose regression: examples, the ResNet18 regressor's training, clean and
attack MAE, Grad-CAM of the trigger, and the trigger × rate report."""
