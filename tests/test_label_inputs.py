"""Labelling's other inputs and outputs, end to end on real faces and in this process (the command
line's own run is tests/test_predict.py's): pre-cropped faces (`--faces=whole`) from CK+48 and
FER2013, the user's own boxes (`--boxes`, CSV with bad rows and JSON lines read back from `--out`),
the per-frame table and timeline (`--csv`), and the batched detector and background decoding that
video labelling runs on."""

import contextlib
import csv
import io
import json
import subprocess
import sys
from typing import NamedTuple

import numpy as np
import pytest
import skimage.data
from PIL import Image
from conftest import CLASSES, DATA_DIR, REPO
from test_faces import ASTRONAUT_FACE
from test_predict import iou, write_video

from ferjax.data.archive import Archive
from ferjax.faces.detect import Detector
from ferjax.inference import media, timeline
from ferjax.inference import predict as labelling
from ferjax.inference.classifier import Classifier
from ferjax.inference.progress_bar import ProgressBar

CLIP_FRAMES = 12  # At 10 frames/s: frames 0-9 in second 0, 10-11 in second 1.


class Labelled(NamedTuple):
  status: int  # The command's exit status.
  stderr: str


def predict(workdir, *inputs, cwd=REPO, **options) -> Labelled:
  """`python -m ferjax.predict --workdir=WORKDIR --OPTION=VALUE ... INPUT ...`, run in this process
  from the folder `cwd`."""
  printed = io.StringIO()
  with contextlib.chdir(cwd), contextlib.redirect_stderr(printed):
    status = labelling.run(list(map(str, inputs)),
                           labelling.Options(workdir=str(workdir), **options))
  return Labelled(status, printed.getvalue())


def lines(path) -> list[dict]:
  return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
  """Four CK+48 and four FER2013 PrivateTest faces as PNG files, as the datasets store them."""
  folder = tmp_path_factory.mktemp("crops")
  for archive, prefix in (("CK+48.zip", "CK+48/"), ("fer2013.zip", "test/")):
    with Archive(DATA_DIR / archive) as source:
      members = [m for m in source.members() if m.startswith(prefix)]
      for member in members[::len(members) // 4][:4]:
        Image.fromarray(source.image(member)).save(folder / member.replace("/", "_"))
  return folder


def test_whole_image_faces_are_classified_as_the_crops_they_are(predict_workdir, crops, tmp_path):
  result = predict(predict_workdir, crops, faces="whole", out=str(tmp_path / "faces.jsonl"))
  assert result.status == 0, result.stderr
  records = lines(tmp_path / "faces.jsonl")
  files = sorted(crops.iterdir())
  assert [record["input"] for record in records] == [str(f) for f in files]
  classifier = Classifier.from_workdir(predict_workdir)
  expected = classifier.probabilities(np.stack([np.asarray(Image.open(f)) for f in files]))
  for record, row in zip(records, expected):
    assert record["box"] == [0.0, 0.0, 48.0, 48.0] and record["score"] is None
    np.testing.assert_allclose(list(record["probabilities"].values()), row, atol=1e-4)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
  folder = tmp_path_factory.mktemp("scene")
  Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.png")
  write_video(folder / "clip.mp4", CLIP_FRAMES)
  return folder


@pytest.fixture(scope="module")
def detected(predict_workdir, scene):
  """MTCNN's faces in the photo and the clip: JSON lines, the --csv table and the timeline."""
  out = scene / "detected"
  result = predict(predict_workdir, scene / "astronaut.png", scene / "clip.mp4", batch=5,
                   out=str(out / "faces.jsonl"), csv=str(out / "faces.csv"))
  assert result.status == 0, result.stderr
  return result, lines(out / "faces.jsonl"), out


def test_csv_has_a_row_per_face_and_frame_with_time_and_every_probability(detected, scene):
  result, records, out = detected
  with open(out / "faces.csv", newline="") as handle:
    rows = list(csv.DictReader(handle))
  names = list(records[0]["probabilities"])
  assert list(rows[0]) == ["input", "frame", "time_s", "face", "x1", "y1", "x2", "y2", "score",
                           "label"] + names
  assert len(rows) == len(records)
  photo = [row for row in rows if row["input"].endswith("astronaut.png")]
  assert len(photo) == 1 and photo[0]["frame"] == photo[0]["time_s"] == ""
  video = [row for row in rows if row["input"].endswith("clip.mp4")]
  assert [int(row["frame"]) for row in video] == list(range(CLIP_FRAMES))
  for row, record in zip(rows, records):
    assert row["label"] == record["label"] and float(row["score"]) == record["score"]
    assert [float(row[k]) for k in ("x1", "y1", "x2", "y2")] == record["box"]
    assert [float(row[name]) for name in names] == list(record["probabilities"].values())
    if record["frame"] is not None:
      assert float(row["time_s"]) == pytest.approx(record["frame"] / 10.0) == record["time"]
  picture = Image.open(out / "clip_timeline.png")
  assert picture.size[0] > 800 and np.asarray(picture.convert("L")).std() > 10
  assert f"timeline {out / 'clip_timeline.png'}" in result.stderr
  assert "frames/s" in result.stderr


def test_dominant_expression_per_second_is_the_highest_mean_over_that_seconds_frames():
  times = [0.0, 0.5, 0.9, 1.0, 1.5, 3.2]
  rows = np.array([[0.6, 0.4], [0.1, 0.9], [0.2, 0.8], [0.7, 0.3], [np.nan, np.nan], [0.5, 0.4]])
  # Second 0: means (0.3, 0.7); second 1: only the frame with a face; second 2: no frame.
  assert timeline.dominant_per_second(times, rows) == [(0, 1), (1, 0), (3, 0)]
  assert timeline.end_time([0.0, 0.1, 0.2]) == pytest.approx(0.3)


@pytest.mark.parametrize("option, value", [("every", 0), ("batch", 0), ("min_face_size", 11),
                                           ("margin", -0.1), ("faces", "eyes")])
def test_labelling_options_out_of_range_are_refused_by_name(option: str, value):
  with pytest.raises(ValueError, match=f"^{option}=.*: expected"):
    labelling.Options(**{option: value})
  labelling.Options(every=1, batch=1, min_face_size=12, margin=0.0, faces="whole")


def test_given_boxes_are_used_and_bad_rows_named_by_line(predict_workdir, detected, scene,
                                                          tmp_path):
  _, records, _ = detected
  (photo,) = [r for r in records if r["frame"] is None]
  x1, y1, x2, y2 = photo["box"]
  (tmp_path / "boxes.csv").write_text(
      "input,frame,x1,y1,x2,y2\n"
      f"astronaut.png,,{x1},{y1},{x2},{y2}\n"
      "astronaut.png,,10,10,abc,50\n"
      "missing.png,,1,1,10,10\n"
      f"clip.mp4,2,{x1},{y1},{x2},{y2}\n"
      "astronaut.png,,900,900,950,950\n"
      "astronaut.png,,5,5,3\n"
      f"clip.mp4,400,{x1},{y1},{x2},{y2}\n"
      "astronaut.png,,40,40,30,90\n")
  result = predict(predict_workdir, boxes=str(tmp_path / "boxes.csv"),
                   out=str(tmp_path / "given.jsonl"), cwd=scene)
  assert result.status == 1, result.stderr
  boxes = tmp_path / "boxes.csv"
  for line, message in ((3, "x2 'abc': expected a number"), (4, "input missing.png: no such file"),
                        (6, "box (900, 900, 950, 950) lies outside astronaut.png (512x512 pixels)"),
                        (7, "expected 6 columns (input, frame, x1, y1, x2, y2), got 5"),
                        (8, "frame 400 of"), (9, "empty box (40, 40, 30, 90)")):
    assert f"error: {boxes} line {line}: {message}" in result.stderr
  given = lines(tmp_path / "given.jsonl")
  assert [(r["input"], r["frame"], r["box"]) for r in given] == [
      ("astronaut.png", None, photo["box"]), ("clip.mp4", 2, photo["box"])]
  assert all(r["score"] is None and r["landmarks"] is None for r in given)
  assert "6 failed" in result.stderr


def test_jsonl_boxes_with_landmarks_reproduce_the_detected_run(predict_workdir, detected, tmp_path):
  """--out's lines fed back as --boxes: the same crops (turned upright by the landmarks), so the
  same probabilities, without the detector."""
  _, records, out = detected
  result = predict(predict_workdir, boxes=str(out / "faces.jsonl"),
                   out=str(tmp_path / "again.jsonl"))
  assert result.status == 0, result.stderr
  again = lines(tmp_path / "again.jsonl")
  assert [(r["input"], r["frame"]) for r in again] == [(r["input"], r["frame"]) for r in records]
  # Boxes and landmarks are written to 0.1 px, so the crops move by up to 0.05 px: the tiny m6
  # (blocks head) moved by up to 3e-3 (2e-3 with the earlier laterals head).
  for first, second in zip(records, again):
    np.testing.assert_allclose(list(second["probabilities"].values()),
                               list(first["probabilities"].values()), atol=5e-3)


def test_a_batch_of_frames_is_detected_as_each_frame_alone(scene):
  detector = Detector()
  video = media.Video(scene / "clip.mp4", every=2)
  (frames,) = list(video.batches(CLIP_FRAMES))
  video.close()
  assert [frame.index for frame in frames] == list(range(0, CLIP_FRAMES, 2))
  together = detector.detect_batch([frame.image for frame in frames])
  for frame, faces in zip(frames, together):
    (alone,) = detector(frame.image)
    (face,) = faces
    np.testing.assert_allclose(face.box, alone.box, atol=0.05)
    np.testing.assert_allclose(face.landmarks, alone.landmarks, atol=0.05)
    assert abs(face.score - alone.score) < 1e-4
    shifted = np.subtract(ASTRONAUT_FACE, [4 * frame.index, 0, 4 * frame.index, 0])
    assert iou(face.box, shifted) > 0.5


def test_video_decoding_yields_the_wanted_frames_and_stops_early(scene):
  video = media.Video(scene / "clip.mp4", wanted={1, 7, 300})
  assert video.frames_to_label == 3
  assert [f.index for batch in video.batches(2) for f in batch] == [1, 7]
  video.close()
  nothing = media.Video(scene / "clip.mp4", wanted=set())  # A video --boxes names no frame of.
  assert list(nothing.batches(2)) == []
  nothing.close()
  video = media.Video(scene / "clip.mp4", ahead=2)
  next(video.batches(1))
  video.close()  # The decoding thread stops though frames are left.
  assert not video._thread.is_alive()
  broken = scene / "broken.mp4"
  broken.write_bytes(b"not a video")
  with pytest.raises(media.InputError, match="cannot open this video"):
    media.Video(broken)


def test_progress_bar_shows_rate_and_time_left(monkeypatch):
  class Log:
    text = ""

    def write(self, text):
      Log.text += text

    def flush(self):
      pass

    def isatty(self):
      return False

  clock = iter([0.0, 20.0, 20.0])
  monkeypatch.setattr("time.perf_counter", lambda: next(clock))
  bar = ProgressBar("clip.mp4", total=100, stream=Log(), log_every=10.0)
  bar.update(40)  # 40 frames in 20 s: 2 frames/s, 60 left, 30 s.
  assert Log.text == ("clip.mp4 [##########..............] 40/100 frames  40%, 2.0 frames/s, "
                      "ETA 0m30s\n")


def test_example_clips_hold_the_faces_they_say(tmp_path):
  """`python -m ferjax.faces.clips`: S011's six expressions (three frames each, one second apiece at
  10 frames/s) and the benchmark's crowd of four faces."""
  printed = {}
  for clip, arguments in (("expressions", []), ("crowd", ["--frames=3"])):
    result = subprocess.run([sys.executable, "-m", "ferjax.faces.clips", f"--clip={clip}",
                             f"--out={tmp_path / clip}.mp4", f"--archive={DATA_DIR / 'CK+48.zip'}",
                             *arguments], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    printed[clip] = result.stdout
  shown = ", ".join(name for name in CLASSES for _ in range(3))
  assert f"S011, 18 s: {shown}" in printed["expressions"]
  video = media.Video(tmp_path / "expressions.mp4")
  assert (video.fps, video.frame_count) == (10.0, 180)
  frames = [frame for batch in video.batches(60) for frame in batch]
  video.close()
  assert frames[0].image.shape == (480, 640, 3) and frames[179].time == pytest.approx(17.9)
  assert not np.array_equal(frames[9].image, frames[10].image)  # A new CK+ frame each second.
  crowd = media.Video(tmp_path / "crowd.mp4")
  first = next(crowd.batches(1))[0]
  crowd.close()
  assert len(Detector()(first.image)) == 4
