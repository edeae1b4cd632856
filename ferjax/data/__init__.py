"""Datasets (TFDS builders), splits and folds, input sources and on-device augmentation."""
