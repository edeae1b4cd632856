"""ferjax: facial-expression recognition in JAX/Flax (README.md). `load_classifier` is the one call
that gives a ready classifier; everything else is in the subpackages."""


def load_classifier(source=None, run=None, fold=0):
  """A ready face-crop classifier (`ferjax.inference.classifier.Classifier`): by default the
  FER2013 model that ships with ferjax (docs/MODELS.md); else a workdir, a portable file or a
  shipped model's name. `classifier.probabilities(crops)` takes uint8 (N, size, size) grayscale
  face crops."""
  from ferjax.inference import classifier
  return classifier.load(source, run, fold)
