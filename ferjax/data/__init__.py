"""Datasets (TFDS builders), split manifests, input sources and on-device augmentation."""
