"""Faces in photos for the expression networks: MTCNN detection (`detect`, `mtcnn`), crops like the
training data (`align`), labelled drawings (`draw`), and the dataset framing measurement
(`framing`)."""

from ferjax.faces.detect import Detector, Face

__all__ = ["Detector", "Face"]
