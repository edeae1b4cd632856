"""Read-only access to a dataset as the user downloaded it (a zip or the same tree unpacked, or a
tar.xz repack of the zip), the form builders store images in, and what a prepared dataset records
about its source.

Builders never extract anything to disk: members are read straight from the zip (or folder, or from
a tar.xz read into memory once), and every error names the archive and member so that a user can
find the bad file. `repack` writes a zip's members, byte for byte, into a solid tar.xz: FER2013's
35,887 small JPEGs share their headers, so it is 28% smaller than the zip (71 MB -> 52 MB), small
enough to travel to an accelerator lease in one call (launch/README.md).
"""

import hashlib
import io
import os
import pathlib
import tarfile
import zipfile
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from ferjax.data import quality

IMAGE_SIZE = 48


class ArchiveError(ValueError):
  """A dataset archive is missing, unreadable or laid out differently from what a builder
  expects."""


TAR_SUFFIX = ".tar.xz"


class Archive:
  """A zip file, a tar.xz or a folder, opened once; `members()` are '/'-separated paths relative to
  its root.

  Use as a context manager: a zip stays open between reads, since reopening it parses the whole
  central directory (35,887 entries for FER2013) each time. A tar.xz has no index to seek by, so its
  files are read into memory when it is opened (142 MB for FER2013).
  """

  def __init__(self, path: os.PathLike):
    self.path = pathlib.Path(path)
    self._zip = None
    if self.path.name.endswith(TAR_SUFFIX):
      self._zip = _TarFiles(self.path)
    elif not self.path.is_dir():
      try:
        self._zip = zipfile.ZipFile(self.path)
      except (OSError, zipfile.BadZipFile) as error:
        raise ArchiveError(f"{self.path} is not a readable zip file: {error}") from None

  def __enter__(self) -> "Archive":
    return self

  def __exit__(self, *exc_info) -> None:
    if self._zip is not None:
      self._zip.close()

  def members(self) -> list[str]:
    """Every file in the archive, sorted, with directory entries left out."""
    if self._zip is None:
      return sorted(
          p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())
    return sorted(name for name in self._zip.namelist() if not name.endswith("/"))

  def read(self, member: str) -> bytes:
    """The bytes of one member."""
    try:
      if self._zip is None:
        return (self.path / member).read_bytes()
      return self._zip.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
      raise ArchiveError(f"cannot read {self.where(member)}: {error}") from None

  def image(self, member: str, shape: Sequence[int] = (48, 48)) -> np.ndarray:
    """One member decoded as a grayscale (H, W) uint8 image of the expected `shape`."""
    return decode_image(self.read(member), self.where(member), shape)

  def where(self, member: str) -> str:
    """How error messages name a member: '<folder>/<member>' or '<zip>:<member>'."""
    return f"{self.path}{'/' if self._zip is None else ':'}{member}"


class _TarFiles:
  """A tar.xz's regular files in memory, with the part of ZipFile's interface `Archive` uses."""

  def __init__(self, path: pathlib.Path):
    try:
      with tarfile.open(path, "r:xz") as tar:
        self._files = {
            member.name: tar.extractfile(member).read() for member in tar if member.isfile()
        }
    except (OSError, tarfile.TarError, EOFError) as error:
      raise ArchiveError(f"{path} is not a readable tar.xz file: {error}") from None

  def namelist(self) -> list[str]:
    return list(self._files)

  def read(self, member: str) -> bytes:
    return self._files[member]

  def close(self) -> None:
    self._files = {}


def repack(zip_path: os.PathLike, output: os.PathLike) -> pathlib.Path:
  """Writes every file of the zip at `zip_path` into the tar.xz `output` with the same names and
  bytes, in sorted order and without owners or times, so that the same zip always gives the same
  tar.xz; returns `output`."""
  output = pathlib.Path(output)
  if not output.name.endswith(TAR_SUFFIX):
    raise ValueError(f"{output}: a repacked archive is named *{TAR_SUFFIX}")
  temporary = output.with_name(output.name + ".partial")
  with Archive(zip_path) as source, tarfile.open(temporary, "w:xz", preset=9) as tar:
    for member in source.members():
      data = source.read(member)
      info = tarfile.TarInfo(member)
      info.size, info.mtime, info.mode = len(data), 0, 0o644
      tar.addfile(info, io.BytesIO(data))
  temporary.replace(output)
  return output


def decode_image(data: bytes, where: str, shape: Sequence[int] = (48, 48)) -> np.ndarray:
  """PNG/JPEG bytes -> (H, W) uint8 grayscale, or ArchiveError naming `where`."""
  try:
    with Image.open(io.BytesIO(data)) as image:
      pixels = np.asarray(image.convert("L"))
  except (OSError, ValueError, Image.DecompressionBombError) as error:
    raise ArchiveError(f"cannot decode image {where}: {error}") from None
  if pixels.shape != tuple(shape):
    raise ArchiveError(f"image {where} is {pixels.shape[1]}x{pixels.shape[0]} pixels; expected "
                       f"{shape[1]}x{shape[0]}")
  return pixels


def find(manual_dir: os.PathLike, names: Sequence[str], accepted: str, source: str) -> pathlib.Path:
  """The first of `names` present in `manual_dir`, or FileNotFoundError saying what to put there.

  Args:
    manual_dir: the folder the user keeps downloads in.
    names: file or folder names to look for, in order of preference.
    accepted: the forms accepted, in words, for the error message.
    source: where users get the data, for the error message.
  """
  manual_dir = pathlib.Path(manual_dir).expanduser()
  for name in names:
    if (manual_dir / name).exists():
      return manual_dir / name
  raise FileNotFoundError(
      f"no dataset found in {manual_dir} (looked for {', '.join(names)}). Accepted: {accepted}. "
      f"{source} Put it in that folder or pass --manual_dir (FERJAX_MANUAL_DIR for the main job).")


def digest(path: os.PathLike) -> str:
  """The sha256 that identifies a source: of a file's bytes (zip, CSV), or for a folder of its
  listing (one 'path size mtime' line per file), which changes whenever a file is added, removed or
  rewritten without reading every image."""
  path = pathlib.Path(path)
  if not path.is_dir():
    with open(path, "rb") as handle:
      return hashlib.file_digest(handle, "sha256").hexdigest()
  lines = []
  for file in sorted(p for p in path.rglob("*") if p.is_file()):
    stat = file.stat()
    lines.append(f"{file.relative_to(path).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}\n")
  return hashlib.sha256("".join(lines).encode()).hexdigest()


class FromArchive:
  """Mixin for builders that read a user's download: its possible names, the forms accepted in
  words, and where users get it, which `locate` turns into a FileNotFoundError that says what to put
  where.

  A build records in `info.metadata` (TFDS's metadata.json beside the data) the source it read,
  {'source': {'name', 'sha256'}, 'statistics': {split: quality.SplitStatistics.summary()}}, so that
  a prepared copy can be checked against the archive and its splits against each other without
  reading the images again. Builders store images through `stored_image`, which counts them.
  """

  ARCHIVE_NAMES: tuple[str, ...] = ()
  ACCEPTED = ""
  SOURCE = ""

  @classmethod
  def locate(cls, manual_dir: os.PathLike) -> pathlib.Path:
    """The archive in `manual_dir` to build from, or FileNotFoundError saying what to put there."""
    return find(manual_dir, cls.ARCHIVE_NAMES, cls.ACCEPTED, cls.SOURCE)

  def _download_and_prepare(self, dl_manager: tfds.download.DownloadManager, **kwargs) -> None:
    """Builds as TFDS does, then records the source's sha256 (taken before reading it) and every
    split's image statistics (gathered while writing it); TFDS writes the metadata afterwards."""
    source = self.locate(dl_manager.manual_dir)
    sha256 = digest(source)
    self._split_statistics = {}
    super()._download_and_prepare(dl_manager, **kwargs)
    self.info.metadata.update(
        source={"name": source.name, "sha256": sha256},
        statistics={split: s.summary() for split, s in self._split_statistics.items()})

  def stored_image(self, split: str, pixels: np.ndarray) -> bytes:
    """The stored form (PNG) of one (H, W) uint8 image of `split`, counted in its statistics."""
    self._split_statistics.setdefault(split, quality.SplitStatistics()).add(pixels)
    return encode_png(pixels)


def encode_png(pixels: np.ndarray) -> bytes:
  """(H, W) uint8 -> PNG bytes, the stored form (lossless, decodable without TensorFlow)."""
  buffer = io.BytesIO()
  Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
  return buffer.getvalue()


def image_feature() -> tfds.features.Image:
  """How builders store images: 48x48x1 PNG, which TFDS decodes with PIL or OpenCV, not
  TensorFlow."""
  return tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), encoding_format="png")


def strip_root(members: list[str], expected_tops: set[str]) -> tuple[str, list[str]]:
  """Drops one enclosing folder (as in 'fer2013/train/...') if the expected folders sit below it."""
  tops = {m.split("/", 1)[0] for m in members}
  if tops <= expected_tops or len(tops) != 1:
    return "", members
  root = tops.pop() + "/"
  return root, [m[len(root):] for m in members]


def is_ignorable(member: str) -> bool:
  """Files that archivers add (macOS resource forks, dotfiles) and no builder should read."""
  return member.startswith("__MACOSX/") or any(p.startswith(".") for p in member.split("/"))
