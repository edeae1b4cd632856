"""Deterministic splits: FER2013's usages and CK+'s cross-validation folds.

CK+48 holds three near-identical frames per sequence and several sequences per subject, so a fold
that shares a subject with its training folds measures recall of a face, not recognition of an
expression. `subject_folds` keeps every subject in one fold (the honest protocol);
`per_class_index_folds` is the scheme popular repos use (each class's images, in file order, cut
into k chunks), kept for comparison with published numbers and named as leaky wherever it is
reported; `random_split` is paper 002's own protocol (section 2.7.1: a random 9:1 split of the
images), repeated with 10 seeds, equally leaky.
"""

from collections.abc import Sequence

import numpy as np

# FER2013's official protocol: train on Training, select on PublicTest, report PrivateTest.
FER2013_SPLITS = {"train": "train", "select": "public_test", "report": "private_test"}
CKPLUS_SCHEMES = ("subject", "leaky_per_class", "leaky_random")


def subject_folds(subjects: np.ndarray, labels: np.ndarray, num_folds: int = 10) -> np.ndarray:
  """Fold index per example, with every subject in exactly one fold and classes spread evenly.

  Greedy and deterministic: subjects are placed largest first (ties by subject id), each into the
  fold where it adds least to sum_c (n_fc / N_c)^2, the per-class fold sizes relative to the class
  totals; equal costs go to the smaller fold, then the lower index. Balancing relative sizes lets
  the rare classes (fear, sadness, contempt) spread as evenly as the subjects that carry them allow.
  """
  subjects, labels = np.asarray(subjects), np.asarray(labels)
  unique_subjects, subject_index = np.unique(subjects, return_inverse=True)
  if len(unique_subjects) < num_folds:
    raise ValueError(
        f"{len(unique_subjects)} subjects cannot fill {num_folds} subject-independent folds")
  num_classes = int(labels.max()) + 1
  per_subject = np.zeros((len(unique_subjects), num_classes))
  np.add.at(per_subject, (subject_index, labels), 1)
  weights = 1.0 / np.maximum(per_subject.sum(0), 1)
  fold_counts = np.zeros((num_folds, num_classes))
  fold_of_subject = np.empty(len(unique_subjects), np.int64)
  for s in sorted(range(len(unique_subjects)),
                  key=lambda s: (-per_subject[s].sum(), unique_subjects[s])):
    added = ((fold_counts + per_subject[s]) ** 2 - fold_counts ** 2) @ (weights ** 2)
    sizes = fold_counts.sum(1)
    fold = min(range(num_folds), key=lambda f: (round(added[f], 12), sizes[f], f))
    fold_counts[fold] += per_subject[s]
    fold_of_subject[s] = fold
  return fold_of_subject[subject_index]


def per_class_index_folds(labels: np.ndarray,
                          order: Sequence[str],
                          num_folds: int = 10) -> np.ndarray:
  """Fold index per example as popular CK+ repos assign it (LEAKY: subjects cross folds).

  Within each class the images are sorted by `order` (their file ids) and cut into `num_folds`
  contiguous chunks of near-equal size.
  """
  labels = np.asarray(labels)
  folds = np.empty(len(labels), np.int64)
  for label in np.unique(labels):
    members = np.flatnonzero(labels == label)
    members = members[np.argsort(np.asarray(order)[members], kind="stable")]
    folds[members] = np.arange(len(members)) * num_folds // len(members)
  return folds


def ckplus_folds(scheme: str, subjects: np.ndarray, labels: np.ndarray, ids: Sequence[str],
                 num_folds: int = 10) -> np.ndarray:
  """Fold index per example for `scheme` ('subject' or 'leaky_per_class')."""
  if scheme == "subject":
    return subject_folds(subjects, labels, num_folds)
  if scheme == "leaky_per_class":
    return per_class_index_folds(labels, ids, num_folds)
  raise ValueError(
      f"unknown CK+ fold scheme {scheme!r}; expected one of {', '.join(CKPLUS_SCHEMES)}")


def random_split(num_examples: int, repetition: int,
                 test_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
  """(train, test) example indices of repetition `repetition`: a seeded random `test_fraction` of
  the examples for testing (LEAKY on CK+: frames of one sequence and one subject fall on both
  sides)."""
  shuffled = np.random.default_rng([repetition, num_examples]).permutation(num_examples)
  num_test = int(round(test_fraction * num_examples))
  return np.sort(shuffled[num_test:]), np.sort(shuffled[:num_test])


def ckplus_split(scheme: str, subjects: np.ndarray, labels: np.ndarray, ids: Sequence[str],
                 num_folds: int, fold: int) -> tuple[np.ndarray, np.ndarray]:
  """(train, test) example indices of fold (or, for 'leaky_random', repetition) `fold` of
  `scheme`."""
  if scheme == "leaky_random":
    if not 0 <= fold < num_folds:
      raise ValueError(f"repetition {fold} does not exist; repetitions are 0..{num_folds - 1}")
    return random_split(len(labels), fold)
  return fold_indices(ckplus_folds(scheme, subjects, labels, ids, num_folds), fold)


def subset(indices: np.ndarray, size: int) -> np.ndarray:
  """A deterministic sample of `size` of `indices` (all of them for 0), kept in their stored
  order."""
  indices = np.asarray(indices)
  if size <= 0 or size >= len(indices):
    return indices
  return indices[np.sort(np.random.default_rng(0).permutation(len(indices))[:size])]


def fold_indices(folds: np.ndarray, fold: int) -> tuple[np.ndarray, np.ndarray]:
  """(train, test) example indices for one fold: the fold is the test set, all others train."""
  if not 0 <= fold <= int(folds.max()):
    raise ValueError(f"fold {fold} does not exist; folds are 0..{int(folds.max())}")
  return np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)


def leaked_subjects(subjects: np.ndarray, folds: np.ndarray) -> np.ndarray:
  """Subjects that appear in more than one fold (empty for subject-independent folds)."""
  pairs = np.unique(np.stack([np.asarray(subjects), folds], 1), axis=0)
  ids, counts = np.unique(pairs[:, 0], return_counts=True)
  return ids[counts > 1]
