"""Embedding geometry under each loss (paper 002, Fig. 9): how tight the classes are, how far apart.

For the deep features x_i (the models' aux["embedding"]) of a test split with labels y_i and class
centres c_k (the class means of those features):
  intra = mean_i ||x_i - c_{y_i}||            (mean distance to the own class centre)
  inter = mean_{k < l} ||c_k - c_l||           (mean distance between class centres)
  ratio = intra / inter                        (smaller: compact and well separated classes)
Distances are Euclidean in the embedding space; each workdir's features are also projected to 2-D
(PCA; t-SNE when scikit-learn is installed) for the side-by-side picture.
"""

import os

import jax
import numpy as np

from ferjax import mesh as mesh_lib
from ferjax.data import job
from ferjax.inference.classifier import Classifier
from ferjax.train import hyper


def class_geometry(embeddings: np.ndarray, labels: np.ndarray) -> dict[str, float]:
  """{'intra', 'inter', 'ratio'} of (N, D) embeddings with labels (N,); classes absent are
  skipped."""
  embeddings = np.asarray(embeddings, np.float64)
  labels = np.asarray(labels)
  classes = np.unique(labels)
  if len(classes) < 2:
    raise ValueError(f"class geometry needs at least two classes, got {len(classes)}")
  centres = np.stack([embeddings[labels == k].mean(axis=0) for k in classes])
  own = centres[np.searchsorted(classes, labels)]
  intra = float(np.linalg.norm(embeddings - own, axis=1).mean())
  first, second = np.triu_indices(len(classes), k=1)
  inter = float(np.linalg.norm(centres[first] - centres[second], axis=1).mean())
  return {"intra": intra, "inter": inter, "ratio": intra / inter}


def pca_2d(embeddings: np.ndarray) -> np.ndarray:
  """(N, 2) projection onto the two principal axes of the centred embeddings."""
  centred = np.asarray(embeddings, np.float64) - np.mean(embeddings, axis=0)
  _, _, axes = np.linalg.svd(centred, full_matrices=False)
  return centred @ axes[:2].T


def tsne_2d(embeddings: np.ndarray, seed: int = 0) -> np.ndarray | None:
  """(N, 2) t-SNE of the embeddings, or None without scikit-learn (an optional dependency)."""
  try:
    from sklearn.manifold import TSNE
  except ImportError:
    return None
  perplexity = min(30.0, max(2.0, (len(embeddings) - 1) / 3))
  return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
      np.asarray(embeddings, np.float32))


def split_embeddings(workdir: os.PathLike, fold: int = 0,
                    run: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
  """(embeddings (N, D), labels (N,), class names) of a trained workdir's run on its test split."""
  classifier = Classifier.from_workdir(workdir, run, fold)
  config = classifier.config
  # All-fold workdirs: `fold`'s model.
  data_fold = config.folds.fold if config.folds.fold >= 0 else fold
  data = job.load(config, mesh_lib.make_mesh(), data_fold, hyper.resolve(config).data_seeds)

  @jax.jit
  def embed(variables, images):
    inputs = classifier.preprocessing.inputs(images[..., 0])
    return classifier.model.apply(variables, inputs)[1]["embedding"]

  embeddings, labels = [], []
  for batch in data.test.eval_batches():
    keep = np.asarray(batch["mask"]).astype(bool)
    embeddings.append(np.asarray(embed(classifier.variables, batch["image"]))[keep])
    labels.append(np.asarray(batch["label"])[keep])
  return np.concatenate(embeddings), np.concatenate(labels), classifier.class_names
