"""TFDS builder `ckplus`: the Extended Cohn-Kanade set (Lucey et al., 2010) as the CK+48
distribution.

CK+48 holds the last three frames of each of the 327 labelled sequences, face-cropped to 48x48:
`CK+48/<class>/S<subject>_<sequence>_<frame>.png`, zipped (`CK+48.zip`) or unpacked (`CK+48/`).
Two configs: `7class` keeps every class; `6class` drops contempt, as paper 000 (section 3.1) does.
Everything lands in one split, `train`: CK+ has no official split, and `ferjax.data.splits` makes
the subject-independent folds from the subject feature stored with every image.
"""

import dataclasses
import re
from collections.abc import Iterator

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data import archive

ALL_CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
PAPER_CLASSES = tuple(c for c in ALL_CLASSES if c != "contempt")
NAMES = ("CK+48.zip", "CK+48", "CK+48.tar.xz")
ACCEPTED = ("CK+48.zip (or its repack CK+48.tar.xz) or a folder CK+48/ holding "
            "<class>/S<subject>_<sequence>_<frame>.png")
SOURCE = ("CK+48 is the widely used face-cropped CK+ distribution (e.g. Kaggle's 'CK+48' dataset); "
          "the full CK+ comes from its authors at the University of Pittsburgh.")
_FILE_NAME = re.compile(r"S(\d+)_(\d+)_(\d+)\.png", re.IGNORECASE)


@dataclasses.dataclass
class CkplusConfig(tfds.core.BuilderConfig):
  """Which CK+48 classes to keep, in label order."""

  classes: tuple[str, ...] = ALL_CLASSES


def parse_members(source: archive.Archive) -> list[tuple[str, str, int, int, int]]:
  """(member, class, subject, sequence, frame) for every image, checked against the layout."""
  members = [m for m in source.members() if not archive.is_ignorable(m)]
  root, relative = archive.strip_root(members, set(ALL_CLASSES))
  rows = []
  for member in relative:
    parts = member.split("/")
    match = _FILE_NAME.fullmatch(parts[-1])
    if len(parts) != 2 or not match:
      raise archive.ArchiveError(f"unexpected file {source.where(root + member)}: expected "
                                 "<class>/S<subject>_<sequence>_<frame>.png")
    if parts[0] not in ALL_CLASSES:
      raise archive.ArchiveError(
          f"unknown class folder {source.where(root + parts[0])}: expected one "
          f"of {', '.join(ALL_CLASSES)}")
    subject, sequence, frame = (int(g) for g in match.groups())
    rows.append((root + member, parts[0], subject, sequence, frame))
  return rows


class Ckplus(archive.FromArchive, tfds.core.GeneratorBasedBuilder):
  """CK+48 images with label, subject, sequence and frame, for subject-independent folds."""

  ARCHIVE_NAMES = NAMES
  ACCEPTED = ACCEPTED
  SOURCE = SOURCE
  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {"1.0.0": "CK+48, configs 7class and 6class (contempt dropped), one split.",
                   "1.1.0": "Records the archive's sha256 and the split's image statistics."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"Place {ACCEPTED} in manual_dir. {SOURCE}"
  BUILDER_CONFIGS = [
      CkplusConfig(name="7class", classes=ALL_CLASSES, description="All seven CK+48 classes."),
      CkplusConfig(name="6class", classes=PAPER_CLASSES,
                   description="Contempt dropped, as in paper 000 (Chen & Chen, 2024)."),
  ]
  DEFAULT_CONFIG_NAME = "6class"

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": archive.image_feature(),
            "label": tfds.features.ClassLabel(names=self.builder_config.classes),
            "subject": tfds.features.Scalar(dtype=np.int32),
            "sequence": tfds.features.Scalar(dtype=np.int32),
            "frame": tfds.features.Scalar(dtype=np.int32), "id": tfds.features.Text(),
        }), supervised_keys=("image", "label"), homepage="https://www.jeffcohn.net/Resources/",
        metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Iterator]:
    source = archive.Archive(self.locate(dl_manager.manual_dir))
    rows = [row for row in parse_members(source) if row[1] in self.builder_config.classes]
    return {"train": self._generate_examples(source, rows)}

  def _generate_examples(self, source: archive.Archive, rows: list) -> Iterator:
    classes = self.builder_config.classes
    for member, name, subject, sequence, frame in rows:
      yield member, {
          "image": self.stored_image("train", source.image(member)), "label": classes.index(name),
          "subject": subject, "sequence": sequence, "frame": frame,
          "id": f"S{subject:03d}_{sequence:03d}_{frame:08d}",
      }
