"""Reading what `python -m ferjax.predict` labels: the inputs named (files and folders), photos, and
videos decoded in a background thread; writing annotated videos.

OpenCV decodes a frame with the GIL released, so a thread that decodes the next frames while the
main thread detects and classifies the current batch hides most of the decoding time. The thread
keeps at most `ahead` frames queued, so memory stays bounded on long videos.
"""

import dataclasses
import pathlib
import queue
import sys
import threading
from collections.abc import Callable, Iterator

import numpy as np

from ferjax.faces import extra

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


class InputError(Exception):
  """An input that cannot be read; the message names it."""


def is_video(path: pathlib.Path) -> bool:
  return path.suffix.lower() in VIDEO_SUFFIXES


def expand(inputs: list[str | pathlib.Path],
           missing: Callable[[pathlib.Path, str], None]) -> Iterator[pathlib.Path]:
  """Every file named, and every image or video inside the folders named (sorted); `missing(path,
  message)` is called for names that are neither."""
  for name in inputs:
    path = pathlib.Path(name)
    if path.is_dir():
      found = sorted(
          p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
      if not found:
        print(f"{path}: no images or videos in this folder", file=sys.stderr)
      yield from found
    elif path.is_file():
      yield path
    else:
      missing(path, "no such file or folder")


def read_image(path: pathlib.Path) -> np.ndarray:
  """RGB uint8 (H, W, 3), turned as its EXIF orientation says; InputError naming the problem
  otherwise."""
  from PIL import Image, ImageOps, UnidentifiedImageError
  try:
    with Image.open(path) as image:
      return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
  except (UnidentifiedImageError, OSError, ValueError) as error:
    raise InputError(f"cannot read this image ({error})") from None


@dataclasses.dataclass(frozen=True)
class Frame:
  """One decoded video frame: its index in the file, its time in seconds, RGB uint8 pixels."""

  index: int
  time: float
  image: np.ndarray


class Video:
  """A video's frames, decoded ahead in a background thread.

  Yields every `every`-th frame, or only the frames in `wanted` when given (the others are skipped
  without being converted). `fps` and `frame_count` are what the file's header says (the count may
  be 0 when the container does not record it).
  """

  def __init__(self, path: pathlib.Path, every: int = 1, wanted: set[int] | None = None,
               ahead: int = 32):
    self._cv2 = extra.require("cv2", "opencv-python-headless")
    self._capture = self._cv2.VideoCapture(str(path))
    if not self._capture.isOpened():
      raise InputError("cannot open this video (OpenCV could not decode it)")
    self.fps = self._capture.get(self._cv2.CAP_PROP_FPS) or 25.0
    self.frame_count = max(0, int(self._capture.get(self._cv2.CAP_PROP_FRAME_COUNT)))
    self.every, self.wanted = every, wanted
    self._queue: queue.Queue = queue.Queue(maxsize=ahead)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._decode, name=f"decode {path.name}", daemon=True)
    self._thread.start()

  @property
  def frames_to_label(self) -> int:
    """How many frames this will yield, by the header's count (0 if unknown)."""
    if self.wanted is not None:
      return len(self.wanted)
    return -(-self.frame_count // self.every)

  def _keep(self, index: int) -> bool:
    return index in self.wanted if self.wanted is not None else index % self.every == 0

  def _decode(self) -> None:
    index = 0
    last = None if self.wanted is None else max(self.wanted, default=-1)
    try:
      while not self._stop.is_set() and (last is None or index <= last):
        if not self._capture.grab():
          break
        if self._keep(index):
          ok, frame = self._capture.retrieve()
          if ok:
            rgb = self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)
            self._put(Frame(index, index / self.fps, rgb))
        index += 1
      self._put(None)
    except Exception as error:  # Passed to the reading thread, which raises it as an InputError.
      self._put(InputError(f"decoding stopped at frame {index} ({type(error).__name__}: {error})"))
    finally:
      self._capture.release()

  def _put(self, item) -> None:
    while not self._stop.is_set():
      try:
        self._queue.put(item, timeout=0.1)
        return
      except queue.Full:
        continue

  def batches(self, size: int) -> Iterator[list[Frame]]:
    """The frames in order, `size` at a time (the last batch may be shorter)."""
    batch = []
    while True:
      item = self._queue.get()
      if isinstance(item, Exception):
        raise item
      if item is None:
        break
      batch.append(item)
      if len(batch) == size:
        yield batch
        batch = []
    if batch:
      yield batch

  def close(self) -> None:
    """Stops the decoding thread (also when the frames were not all read)."""
    self._stop.set()
    self._thread.join()


class VideoWriter:
  """An MP4 (mp4v) of RGB frames, opened at the first frame's size."""

  def __init__(self, path: pathlib.Path, fps: float):
    self.path, self.fps, self._writer = path, fps, None
    self._cv2 = extra.require("cv2", "opencv-python-headless")

  def write(self, frame: np.ndarray) -> None:
    if self._writer is None:
      fourcc = self._cv2.VideoWriter_fourcc(*"mp4v")
      self._writer = self._cv2.VideoWriter(str(self.path), fourcc, self.fps, frame.shape[1::-1])
    self._writer.write(self._cv2.cvtColor(frame, self._cv2.COLOR_RGB2BGR))

  def close(self) -> None:
    if self._writer is not None:
      self._writer.release()
