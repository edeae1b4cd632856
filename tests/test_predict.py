"""Using a trained model: `python -m ferjax.predict` end to end from a workdir this module trains
for one epoch, on the astronaut photo, a canvas of CK+ faces, a video it writes and bad input; the
portable export run without the training code; the face crop."""

import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image
from conftest import DATA_DIR, REPO
from test_faces import ASTRONAUT_FACE, CANVAS_FACES, CANVAS_SHAPE, resized

import ferjax
from ferjax.data.archive import Archive
from ferjax.faces import align, extra
from ferjax.inference import export as portable, shipped

VIDEO_FRAMES = 7
EVERY = 3


def iou(a, b) -> float:
  width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  inter = width * height
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def canvas_image() -> np.ndarray:
  canvas = np.full(CANVAS_SHAPE, 128, np.uint8)
  with Archive(DATA_DIR / "CK+48.zip") as source:
    for member, (x, y, side) in CANVAS_FACES.items():
      canvas[y:y + side, x:x + side] = resized(source.image(member), (side, side))
  return canvas


def write_video(path, frames: int) -> None:
  """The astronaut's upper half panning right by 4 px per frame, as an MP4."""
  photo = skimage.data.astronaut()[:256, :, ::-1]  # OpenCV writes BGR.
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 256))
  for frame in range(frames):
    writer.write(np.ascontiguousarray(photo[:, 4 * frame:4 * frame + 320]))
  writer.release()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
  folder = tmp_path_factory.mktemp("inputs")
  Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.png")
  Image.fromarray(canvas_image()).save(folder / "canvas.png")
  Image.fromarray(np.full(CANVAS_SHAPE, 200, np.uint8)).save(folder / "blank.png")
  (folder / "broken.jpg").write_bytes(b"this is not a JPEG")
  write_video(folder / "clip.mp4", VIDEO_FRAMES)
  return folder


@pytest.fixture(scope="module")
def predicted(predict_workdir, inputs, tmp_path_factory):
  """One run over everything (JSON lines, annotations, explanations), and the model exported."""
  out = tmp_path_factory.mktemp("predicted")
  command = [sys.executable, "-m", "ferjax.predict", f"--workdir={predict_workdir}", str(inputs),
             str(inputs / "missing.png"), f"--out={out / 'faces.jsonl'}",
             f"--annotate={out / 'annotated'}", f"--explain={out / 'explained'}",
             f"--every={EVERY}"]
  # The commands inherit the suite's compilation cache (conftest): MTCNN's programs for these image
  # sizes were compiled by test_faces.
  result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
  # The export command's real runs are test_export's and the portable file's re-export below.
  classifier = ferjax.load_classifier(predict_workdir)
  portable.export(classifier, out / "model.ferjax", classifier.crop_margin())
  records = [json.loads(line) for line in (out / "faces.jsonl").read_text().splitlines()]
  return result, records, out


def faces_of(records, name: str, frame=None) -> list[dict]:
  return [r for r in records if r["input"].endswith(name) and r["frame"] == frame]


def test_predict_labels_every_face_and_reports_bad_input(predicted, inputs):
  result, records, _ = predicted
  # broken.jpg and missing.png failed; the rest went on.
  assert result.returncode == 1, result.stderr
  assert f"error: {inputs / 'broken.jpg'}: cannot read this image" in result.stderr
  assert f"error: {inputs / 'missing.png'}: no such file or folder" in result.stderr
  assert f"{inputs / 'blank.png'}: no face found" in result.stderr
  assert "1 without a face, 2 failed" in result.stderr
  astronaut = faces_of(records, "astronaut.png")
  assert len(astronaut) == 1 and iou(astronaut[0]["box"], ASTRONAUT_FACE) > 0.5
  canvas = faces_of(records, "canvas.png")
  pasted = [(x, y, x + side, y + side) for x, y, side in CANVAS_FACES.values()]
  assert len(canvas) == len(pasted)
  assert sorted(max(range(len(pasted)), key=lambda i: iou(face["box"], pasted[i]))
                for face in canvas) == list(range(len(pasted)))
  for frame in range(0, VIDEO_FRAMES, EVERY):
    (face,) = faces_of(records, "clip.mp4", frame)
    shifted = np.subtract(ASTRONAUT_FACE, [4 * frame, 0, 4 * frame, 0])
    assert iou(face["box"], shifted) > 0.5, (frame, face["box"])
  video_frames = {r["frame"] for r in records if r["input"].endswith("clip.mp4")}
  assert video_frames == set(range(0, VIDEO_FRAMES, EVERY))
  for record in records:
    probabilities = record["probabilities"]
    assert list(probabilities) == ["anger", "disgust", "fear", "happy", "sadness", "surprise"]
    assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-3)
    assert record["label"] == max(probabilities, key=probabilities.get)
    assert len(record["landmarks"]) == 5


def test_an_image_too_small_for_the_detector_is_reported_and_the_run_goes_on(predicted, tmp_path):
  """A 5x7 PNG sorted before a real photo: an error naming it, the photo still labelled, exit status
  1."""
  _, _, out = predicted
  folder = tmp_path / "inputs"
  folder.mkdir()
  Image.fromarray(np.full((5, 7), 90, np.uint8)).save(folder / "a_tiny.png")
  Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.png")
  command = [sys.executable, "-m", "ferjax.predict", f"--model={out / 'model.ferjax'}", str(folder),
             f"--out={tmp_path / 'faces.jsonl'}"]
  result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 1, result.stderr
  assert (
      f"error: {folder / 'a_tiny.png'}: too small to search for faces: 5x7 pixels, at least 12x12 "
      "needed") in result.stderr
  assert "1 image(s), 0 video frame(s): 1 face(s), 0 without a face, 1 failed" in result.stderr
  records = [json.loads(line) for line in (tmp_path / "faces.jsonl").read_text().splitlines()]
  (face,) = faces_of(records, "astronaut.png")
  assert iou(face["box"], ASTRONAUT_FACE) > 0.5


def test_predict_writes_pictures_and_video(predicted):
  _, records, out = predicted
  assert {p.name for p in (out / "annotated").iterdir()} == {"astronaut.png", "canvas.png",
                                                              "blank.png", "clip.mp4"}
  original, annotated = (skimage.data.astronaut(),
                         np.asarray(Image.open(out / "annotated" / "astronaut.png")))
  assert annotated.shape == original.shape and (annotated != original).any(axis=-1).mean() > 0.001
  video = cv2.VideoCapture(str(out / "annotated" / "clip.mp4"))
  assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(range(0, VIDEO_FRAMES, EVERY))
  video.release()
  explained = sorted(p.name for p in (out / "explained").iterdir())
  assert len(explained) == len(records) and "astronaut_face0.png" in explained
  assert "clip_frame000003_face0.png" in explained
  assert Image.open(out / "explained" / "astronaut_face0.png").size[0] > 600


def test_portable_model_runs_without_the_training_code(predicted, predict_workdir, tmp_path):
  """The exported file gives the workdir's probabilities with ferjax's training modules
  unimportable."""
  from ferjax.inference.classifier import Classifier
  _, records, out = predicted
  (face,) = faces_of(records, "astronaut.png")
  crop = align.crop_face(skimage.data.astronaut(), face["box"], np.array(face["landmarks"]))
  np.save(tmp_path / "crop.npy", crop[None])
  script = (
      "import sys, json, numpy as np\n"
      "for name in ('ferjax.train.loop', 'ferjax.train.state', 'ferjax.inference.classifier', "
      "'ferjax.train.checkpoints', "
      "'ferjax.models', 'configs', 'orbax', 'tensorflow_datasets'):\n"
      "  sys.modules[name] = None\n"
      "from ferjax.inference.export import PortableClassifier\n"
      f"model = PortableClassifier.load({str(out / 'model.ferjax')!r})\n"
      "print(json.dumps(model.probabilities("
      f"np.load({str(tmp_path / 'crop.npy')!r}))[0].tolist()))\n"
  )
  result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr
  # The crop is rebuilt from the box and landmarks --out wrote to 0.1 px, so it is compared with the
  # workdir's own network on the same crop.
  expected = Classifier.from_workdir(predict_workdir).probabilities(crop[None])[0]
  np.testing.assert_allclose(json.loads(result.stdout.splitlines()[-1]), expected, atol=2e-4)


def test_crop_turns_the_eye_line_horizontal():
  """Two bright 'eyes' on a slanted line end up on one row of the crop, the box's centre in its
  middle."""
  image = np.zeros((200, 200), np.uint8)
  eyes = np.array([[80.0, 90.0], [120.0, 110.0]])  # 26.6 degrees.
  for x, y in eyes:
    image[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3] = 255
  landmarks = np.concatenate([eyes, np.zeros((3, 2))])
  crop = align.crop_face(image, (60, 60, 140, 140), landmarks, size=80).astype(np.float64)
  rows, cols = np.nonzero(crop > 100)
  left, right = cols < 40, cols >= 40
  assert abs(rows[left].mean() - rows[right].mean()) < 1.0
  assert abs((cols[left].mean() + cols[right].mean()) / 2 - 39.5) < 1.5
  distance = np.hypot(*(eyes[1] - eyes[0]))
  # Same scale: box side = crop side.
  assert abs(cols[right].mean() - cols[left].mean() - distance) < 1.5


def test_missing_video_support_names_the_extra(monkeypatch):
  import importlib.util
  find_spec = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, "find_spec",
                      lambda name, *a: None if name == "cv2" else find_spec(name, *a))
  with pytest.raises(ModuleNotFoundError, match=r"pip install -e '\.\[faces\]'") as error:
    extra.require("cv2", "opencv-python-headless")
  assert "'opencv-python-headless'" in str(error.value)


def test_pick_run_says_which_run_and_why(tmp_path, capsys):
  """The best validation run, or run 0 where nothing was validated (CK+), named on stderr when
  there was a choice; a given run is checked."""
  from ferjax.inference.classifier import pick_run
  assert pick_run([0.61, 0.64, 0.62], None, tmp_path) == 1
  assert "using run 1 of 3, the best validation accuracy (0.6400)" in capsys.readouterr().err
  assert pick_run([-1.0, -1.0], None, tmp_path) == 0
  assert "no validation split to choose among its 2 runs; using run 0" in capsys.readouterr().err
  assert pick_run([-1.0], None, tmp_path) == 0 and not capsys.readouterr().err
  assert pick_run([0.5, 0.6], 0, tmp_path) == 0
  with pytest.raises(ValueError, match="--run=2: .* holds runs 0..1"):
    pick_run([0.5, 0.6], 2, tmp_path)


def test_one_call_loads_a_workdir_a_portable_file_or_a_shipped_model(predicted, predict_workdir,
                                                                      tmp_path, monkeypatch):
  """`ferjax.load_classifier`: a portable file rebuilds the workdir's network (test-time
  augmentation included); a shipped model's name, or nothing, loads the shipped file and says so."""
  _, _, out = predicted
  with Archive(DATA_DIR / "CK+48.zip") as source:
    members = [m for m in source.members() if m.endswith(".png")]
    crops = np.stack([source.image(m) for m in members[::100]])
  from_workdir = ferjax.load_classifier(predict_workdir)
  from_file = ferjax.load_classifier(out / "model.ferjax")
  assert from_file.class_names == from_workdir.class_names and from_file.margin == 0.0
  for tta in (False, True):
    np.testing.assert_allclose(from_file.probabilities(crops, tta),
                               from_workdir.probabilities(crops, tta), atol=1e-6)
  # `python -m ferjax.export --model=FILE`: a portable file written again from a portable file.
  command = [sys.executable, "-m", "ferjax.export", f"--model={out / 'model.ferjax'}",
             f"--out={tmp_path / 'again.ferjax'}"]
  exported = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
  assert exported.returncode == 0, exported.stderr
  again = ferjax.load_classifier(tmp_path / "again.ferjax")
  assert again.margin == 0.0
  np.testing.assert_allclose(again.probabilities(crops), from_file.probabilities(crops), atol=1e-6)
  monkeypatch.setattr(shipped, "path", lambda name: out / "model.ferjax")
  for named in (None, "fer2013"):
    assert ferjax.load_classifier(named).source.startswith("ferjax's shipped model 'fer2013'")
  monkeypatch.undo()
  with pytest.raises(ValueError, match="ferjax ships no model named 'fer2014'; it ships fer2013"):
    shipped.path("fer2014")
  with pytest.raises(FileNotFoundError, match="neither a workdir, a portable file nor a shipped"):
    ferjax.load_classifier(tmp_path / "nothing")
