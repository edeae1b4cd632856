"""TFDS builder `fer2013`: FER2013 (Goodfellow et al., 2013) from either form users download.

Forms read from `manual_dir`, in this order of preference:
  * `fer2013.zip` or its unpacked folder `fer2013/`: `train/<class>/Training_<id>.jpg` and
    `test/<class>/{PublicTest,PrivateTest}_<id>.jpg` (the image-folder distribution), or the zip's
    byte-identical repack `fer2013.tar.xz` (`ferjax.data.archive.repack`, for accelerator leases);
  * `fer2013.csv`: Kaggle's original release, columns emotion, pixels (2,304 space-separated
    values), Usage.
Either way the labels follow the Kaggle order (0 angry ... 6 neutral) and the usages are the splits:
Training -> train, PublicTest -> public_test (model selection), PrivateTest -> private_test
(report).

Two configs. `fer2013/unchanged` (the default, `fer2013`) stores the pixels as read: the
image-folder archive in ../shared/data is histogram-equalised per image already. `fer2013/equalized`
equalises each image first (`histogram.equalize`), so that a raw copy, such as Kaggle's
fer2013.csv, matches that archive; the two are separate prepared datasets, never one mistaken for
the other.
"""

import csv
import dataclasses
import functools
import pathlib
import re
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow_datasets as tfds

from ferjax.data import archive, histogram

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SPLITS = {"Training": "train", "PublicTest": "public_test", "PrivateTest": "private_test"}
FOLDER_OF_USAGE = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
NAMES = ("fer2013.zip", "fer2013", "fer2013.tar.xz", "fer2013.csv")
ACCEPTED = (
    "fer2013.zip (or its repack fer2013.tar.xz) or a folder fer2013/ holding "
    "train/<class>/Training_<id>.jpg and test/<class>/{PublicTest,PrivateTest}_<id>.jpg, "
    "or Kaggle's fer2013.csv (columns emotion, pixels, Usage)")
SOURCE = ("FER2013 comes from the Kaggle challenge 'Challenges in Representation Learning: Facial "
          "Expression Recognition Challenge' (fer2013.csv) or its image-folder mirror on Kaggle "
          "('msambare/fer2013', fer2013.zip).")
IMAGE_SIZE = archive.IMAGE_SIZE
_FILE_NAME = re.compile(r"(Training|PublicTest|PrivateTest)_(\d+)\.(jpg|jpeg|png)", re.IGNORECASE)


def folder_examples(source: archive.Archive) -> dict[str, list[tuple[str, str, int]]]:
  """(member, id, label) per split from the image-folder form, checked against its layout."""
  members = [m for m in source.members() if not archive.is_ignorable(m)]
  root, relative = archive.strip_root(members, {"train", "test"})
  folder_classes = sorted(CLASSES)
  by_split = {split: [] for split in SPLITS.values()}
  for member in relative:
    parts = member.split("/")
    match = _FILE_NAME.fullmatch(parts[-1])
    if len(parts) != 3 or parts[0] not in ("train", "test") or not match:
      raise archive.ArchiveError(
          f"unexpected file {source.where(root + member)}: "
          "expected train/<class>/Training_<id>.jpg "
          "or test/<class>/{PublicTest,PrivateTest}_<id>.jpg")
    if parts[1] not in folder_classes:
      raise archive.ArchiveError(
          f"unknown class folder {source.where(root + '/'.join(parts[:2]))}: expected one of "
          f"{', '.join(folder_classes)}")
    usage = match.group(1)
    if FOLDER_OF_USAGE[usage] != parts[0]:
      raise archive.ArchiveError(
          f"{source.where(root + member)}: a {usage} image under {parts[0]}/")
    by_split[SPLITS[usage]].append(
        (root + member, pathlib.Path(member).stem, CLASSES.index(parts[1])))
  return by_split


def parse_csv_row(row: dict, context: str) -> tuple[str, np.ndarray, int]:
  """One Kaggle CSV row -> (split, (48, 48) uint8 pixels, label); an ArchiveError starting with
  `context` (file, row and line) says what was expected otherwise."""
  header = [key for key in row if key is not None]
  fields = sum(row[key] is not None for key in header) + len(row.get(None, ()))
  if fields != len(header):
    raise archive.ArchiveError(
        f"{context}: {fields} comma-separated fields; expected {len(header)} "
        f"({', '.join(header)})")
  usage = row["Usage"]
  if usage not in SPLITS:
    raise archive.ArchiveError(
        f"{context}: unknown Usage {usage!r}; expected one of {', '.join(SPLITS)}")
  expected_label = f"an integer in 0..{len(CLASSES) - 1}"
  try:
    label = int(row["emotion"])
  except ValueError:
    raise archive.ArchiveError(
        f"{context}: emotion {row['emotion']!r}; expected {expected_label}") from None
  if not 0 <= label < len(CLASSES):
    raise archive.ArchiveError(f"{context}: emotion {label}; expected {expected_label}")
  expected_pixels = f"{IMAGE_SIZE * IMAGE_SIZE} space-separated integers in 0..255 (48x48)"
  try:
    values = np.array(row["pixels"].split(), dtype=np.int64)
  except ValueError:
    message = f"{context}: pixels are not all integers; expected {expected_pixels}"
    raise archive.ArchiveError(message) from None
  if values.size != IMAGE_SIZE * IMAGE_SIZE:
    raise archive.ArchiveError(f"{context}: {values.size} pixel values; expected {expected_pixels}")
  if values.min() < 0 or values.max() > 255:
    raise archive.ArchiveError(
        f"{context}: pixel values outside 0..255; expected {expected_pixels}")
  return SPLITS[usage], values.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE), label


def csv_examples(path: pathlib.Path) -> dict[str, list[tuple[str, np.ndarray, int]]]:
  """(id, pixels, label) per split from Kaggle's fer2013.csv; the id is 'row<N>', N counted from 0
  (the first row after the header), and errors name the row and its line in the file."""
  by_split = {split: [] for split in SPLITS.values()}
  with open(path, newline="") as handle:
    reader = csv.DictReader(handle)
    try:
      missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or ())
      if missing:
        raise archive.ArchiveError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}; expected "
            "emotion, pixels, Usage")
      for number, row in enumerate(reader):
        split, pixels, label = parse_csv_row(row, f"{path} row {number} (line {reader.line_num})")
        by_split[split].append((f"row{number}", pixels, label))
    except (csv.Error, UnicodeDecodeError) as error:
      raise archive.ArchiveError(
          f"{path} line {reader.line_num}: not a readable CSV file: {error}") from None
  return by_split


@dataclasses.dataclass
class Fer2013Config(tfds.core.BuilderConfig):
  """Whether each image is histogram-equalised (`histogram.equalize`) before it is stored."""

  equalize: bool = False


class Fer2013(archive.FromArchive, tfds.core.GeneratorBasedBuilder):
  """FER2013 as 48x48x1 PNG images, Kaggle labels and the original file id (or CSV row)."""

  ARCHIVE_NAMES = NAMES
  ACCEPTED = ACCEPTED
  SOURCE = SOURCE
  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Image-folder zip or Kaggle CSV; splits train, public_test, private_test.",
      "1.1.0": "Configs unchanged and equalized; records the source's sha256 and every split's "
               "image statistics."
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"Place one of: {ACCEPTED} in manual_dir. {SOURCE}"
  BUILDER_CONFIGS = [
      Fer2013Config(name="unchanged",
                    description="Pixels as read (the archive in ../shared/data is "
                    "histogram-equalised already)."),
      Fer2013Config(name="equalized",
                    equalize=True,
                    description="Each image histogram-equalised, so "
                    "that a raw copy (Kaggle's fer2013.csv) matches the equalised archive."),
  ]
  DEFAULT_CONFIG_NAME = "unchanged"

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": archive.image_feature(), "label": tfds.features.ClassLabel(names=CLASSES),
            "id": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage="https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-"
                 "recognition-challenge",
        metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Iterator]:
    path = self.locate(dl_manager.manual_dir)
    if path.suffix == ".csv":
      by_split = {split: [(example_id, example_id, label, functools.partial(np.asarray, pixels))
                          for example_id, pixels, label in rows]
                  for split, rows in csv_examples(path).items()}
    else:
      source = archive.Archive(path)
      by_split = {split: [(member, example_id, label, functools.partial(source.image, member))
                          for member, example_id, label in rows]
                  for split, rows in folder_examples(source).items()}
    return {split: self._generate_examples(split, rows) for split, rows in by_split.items()}

  def _generate_examples(self, split: str,
                         rows: list[tuple[str, str, int, Callable[[], np.ndarray]]]) -> Iterator:
    """Yields (key, example); `rows` hold (unique key, id, label, a function that returns the
    pixels).

    The key is the member path, not the id: the image-folder release has two training ids
    (Training_8475486, Training_52789098) filed under two classes each.
    """
    for key, example_id, label, pixels in rows:
      image = histogram.equalize(pixels()) if self.builder_config.equalize else pixels()
      yield key, {"image": self.stored_image(split, image), "label": label, "id": example_id}
