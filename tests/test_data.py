"""Datasets built from the real archives in ../shared/data, their fold manifests, bad input, and
small archives made of real images: damaged, changed after preparing, or to equalise."""

import csv
import functools
import io
import re
import subprocess
import sys
import zipfile

import cv2
import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from conftest import DATA_DIR, REPO
from PIL import Image, ImageFilter

from ferjax.data import archive, datasets, fer2013, histogram, quality, splits

FER2013_TRAIN_COUNTS = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830,
                        "surprise": 3171, "neutral": 4965}
CKPLUS_COUNTS = {
    "anger": 135, "contempt": 54, "disgust": 177, "fear": 75, "happy": 207, "sadness": 84,
    "surprise": 249
}


def image_bytes(value: int, suffix: str = ".png", size: int = 48) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(np.full((size, size), value, np.uint8)).save(
      buffer, format="PNG" if suffix == ".png" else "JPEG")
  return buffer.getvalue()


def write_zip(path, members: dict[str, bytes]) -> None:
  with zipfile.ZipFile(path, "w") as handle:
    for name, data in members.items():
      handle.writestr(name, data)


@functools.cache
def fer2013_members() -> dict[str, tuple[str, ...]]:
  """Every 101st member of each usage of the real fer2013.zip (a spread over the classes)."""
  with archive.Archive(DATA_DIR / "fer2013.zip") as source:
    members = source.members()
  return {usage: tuple(m for m in members if f"/{usage}_" in m)[::101] for usage in fer2013.SPLITS}


def small_fer2013_zip(path, first: int = 0, per_split: int = 10, transform: dict | None = None
                      ) -> dict[str, np.ndarray]:
  """A fer2013.zip of `per_split` real images per usage, from the `first`-th of `fer2013_members`
  on, stored as PNG after `transform[usage]` if given; returns the stored pixels by example id."""
  stored, members = {}, {}
  with archive.Archive(DATA_DIR / "fer2013.zip") as source:
    for usage, chosen in fer2013_members().items():
      for member in chosen[first:first + per_split]:
        pixels = (transform or {}).get(usage, np.asarray)(source.image(member))
        name = member.rsplit(".", 1)[0] + ".png"
        stored[name.rsplit("/", 1)[1][:-4]] = pixels
        members[name] = archive.encode_png(pixels)
  write_zip(path, members)
  return stored


def blur(pixels: np.ndarray) -> np.ndarray:
  """The damage of the old training split: a Gaussian blur of radius 2."""
  return np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(2)))


def prepare_command(*flags: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "ferjax.data.prepare", *flags],
                        cwd=REPO, capture_output=True, text=True, timeout=300)


def test_fer2013_splits_labels_and_counts(fer2013_data):
  assert fer2013_data.info.features["label"].names == [
      "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
  assert {s: fer2013_data.info.splits[s].num_examples for s in fer2013_data.info.splits} == {
      "train": 28709, "public_test": 3589, "private_test": 3589}
  assert datasets.class_counts(fer2013_data, "train") == FER2013_TRAIN_COUNTS
  example = fer2013_data.as_data_source("public_test")[0]
  assert example["image"].shape == (48, 48, 1) and example["image"].dtype == np.uint8
  assert example["id"].decode().startswith("PublicTest_")


def test_ckplus_images_subjects_sequences_and_configs(ckplus_data):
  everything = datasets.read_split(ckplus_data["7class"], "train")
  assert len(everything["label"]) == 981
  assert len(np.unique(everything["subject"])) == 118
  assert len(np.unique(everything["subject"] * 1000 + everything["sequence"])) == 327
  assert datasets.class_counts(ckplus_data["7class"], "train") == CKPLUS_COUNTS
  six = datasets.read_split(ckplus_data["6class"], "train")
  assert len(six["label"]) == 927
  assert ckplus_data["6class"].info.features["label"].names == [
      c for c in CKPLUS_COUNTS if c != "contempt"
  ]
  assert six["image"].shape == (927, 48, 48, 1) and six["image"].dtype == np.uint8


def test_prepared_images_are_the_archive_pixels(ckplus_data):
  examples = datasets.read_split(ckplus_data["7class"], "train")
  with archive.Archive(DATA_DIR / "CK+48.zip") as source:
    for i in (0, 500, 980):
      example_id = examples["id"][i].decode()
      name = list(CKPLUS_COUNTS)[examples["label"][i]]
      np.testing.assert_array_equal(examples["image"][i, ..., 0],
                                    source.image(f"CK+48/{name}/{example_id}.png"))


@pytest.mark.parametrize("config", ["6class", "7class"])
def test_subject_folds_keep_subjects_apart_and_spread_classes(ckplus_data, config):
  examples = datasets.read_split(ckplus_data[config], "train")
  folds = splits.subject_folds(examples["subject"], examples["label"])
  assert folds.shape == examples["label"].shape and set(folds) == set(range(10))
  assert len(splits.leaked_subjects(examples["subject"], folds)) == 0
  for subject in np.unique(examples["subject"]):
    assert len(np.unique(folds[examples["subject"] == subject])) == 1
  per_fold = np.stack([
      np.bincount(examples["label"][folds == f], minlength=examples["label"].max() + 1)
      for f in range(10)
  ])
  totals = per_fold.sum(0)
  # As even as whole subjects allow: each class within 2 sequences (6 images) of its fair share.
  assert np.all(np.abs(per_fold - totals / 10) <= 6), per_fold
  np.testing.assert_array_equal(folds, splits.subject_folds(examples["subject"], examples["label"]))
  train, test = splits.fold_indices(folds, 3)
  assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(folds)


def test_leaky_per_class_folds_are_balanced_and_leak(ckplus_data):
  examples = datasets.read_split(ckplus_data["6class"], "train")
  folds = splits.ckplus_folds("leaky_per_class", examples["subject"], examples["label"],
                              examples["id"].astype(str))
  per_fold = np.stack([np.bincount(examples["label"][folds == f]) for f in range(10)])
  assert np.all(per_fold.max(0) - per_fold.min(0) <= 1)
  assert len(splits.leaked_subjects(examples["subject"], folds)) > 50
  with pytest.raises(ValueError, match="unknown CK\\+ fold scheme 'random'"):
    splits.ckplus_folds("random", examples["subject"], examples["label"], examples["id"])


def test_paper002_random_splits_are_seeded_nine_to_one_and_leak(ckplus_data):
  examples = datasets.read_split(ckplus_data["6class"], "train")
  args = (examples["subject"], examples["label"], examples["id"].astype(str), 10)
  repetitions = [splits.ckplus_split("leaky_random", *args, fold) for fold in range(10)]
  for train, test in repetitions:
    assert len(test) == 93 and len(train) == 834 and len(np.intersect1d(train, test)) == 0
    assert len(np.intersect1d(examples["subject"][train], examples["subject"][test])) > 30  # leaky
  assert len({tuple(test) for _, test in repetitions}) == 10
  np.testing.assert_array_equal(splits.ckplus_split("leaky_random", *args, 4)[1], repetitions[4][1])
  np.testing.assert_array_equal(splits.ckplus_split("subject", *args, 2)[1],
                                splits.fold_indices(splits.subject_folds(*args[:2]), 2)[1])
  with pytest.raises(ValueError, match="repetition 10 does not exist"):
    splits.ckplus_split("leaky_random", *args, 10)


def test_subsets_are_deterministic_and_keep_the_stored_order():
  indices = np.arange(100, 200)
  chosen = splits.subset(indices, 30)
  assert len(chosen) == 30 and np.all(np.diff(chosen) > 0) and set(chosen) <= set(indices)
  np.testing.assert_array_equal(chosen, splits.subset(indices, 30))
  np.testing.assert_array_equal(splits.subset(indices, 0), indices)


def test_kaggle_csv_gives_the_pixels_and_labels_of_the_image_folders(tmp_path):
  """A fer2013.csv written from archive images (Kaggle label order) builds to the same examples."""
  folder_labels = {
      "angry": 0, "disgust": 1, "fear": 2, "happy": 3, "sad": 4, "surprise": 5,
      "neutral": 6
  }
  rows, expected = [], []
  with archive.Archive(DATA_DIR / "fer2013.zip") as source:
    members = source.members()
    for usage, count in (("Training", 120), ("PublicTest", 60), ("PrivateTest", 60)):
      chosen = [m for m in members if f"/{usage}_" in m][::97][:count]
      for member in chosen:
        pixels = source.image(member)
        label = folder_labels[member.split("/")[1]]
        rows.append({
            "emotion": label,
            "pixels": " ".join(map(str, pixels.ravel())),
            "Usage": usage
        })
        expected.append((fer2013.SPLITS[usage], pixels, label))
  manual = tmp_path / "manual"
  manual.mkdir()
  with open(manual / "fer2013.csv", "w", newline="") as handle:
    writer = csv.DictWriter(handle, ["emotion", "pixels", "Usage"])
    writer.writeheader()
    writer.writerows(rows)
  builder = datasets.prepare("fer2013", manual, tmp_path / "tfds")
  built = {split: datasets.read_split(builder, split) for split in fer2013.SPLITS.values()}
  for row, (split, pixels, label) in enumerate(expected):
    where = list(built[split]["id"]).index(f"row{row}".encode())
    np.testing.assert_array_equal(built[split]["image"][where, ..., 0], pixels)
    assert built[split]["label"][where] == label
  assert sum(len(b["label"]) for b in built.values()) == len(expected)


def test_unpacked_folder_builds_like_the_zip(tmp_path):
  with archive.Archive(DATA_DIR / "CK+48.zip") as source:
    members = [m for m in source.members() if "/S005_" in m or "/S010_" in m]
    for member in members:
      (tmp_path / "manual" / member).parent.mkdir(parents=True, exist_ok=True)
      (tmp_path / "manual" / member).write_bytes(source.read(member))
  builder = datasets.prepare("ckplus/7class", tmp_path / "manual", tmp_path / "tfds")
  examples = datasets.read_split(builder, "train")
  assert len(examples["label"]) == len(members) and set(examples["subject"]) == {5, 10}


def test_prepare_command_builds_once_then_reuses(tmp_path):
  command = [
      sys.executable, "-m", "ferjax.data.prepare", "--dataset=ckplus", f"--manual_dir={DATA_DIR}",
      f"--data_dir={tmp_path}"
  ]
  first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert first.returncode == 0, first.stderr
  assert "ckplus/7class" in first.stdout and "ckplus/6class" in first.stdout
  assert "contempt" in first.stdout and "981" in first.stdout and "927" in first.stdout
  assert first.stdout.count("built in") == 2
  second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert second.returncode == 0 and second.stdout.count("reused") == 2


def test_missing_archive_names_the_folder_forms_and_source(tmp_path):
  with pytest.raises(FileNotFoundError) as error:
    datasets.prepare("fer2013", tmp_path, tmp_path / "tfds")
  message = str(error.value)
  assert str(tmp_path) in message and "fer2013.csv" in message and "fer2013.zip" in message
  assert "Kaggle" in message
  with pytest.raises(FileNotFoundError, match="CK\\+48.zip"):
    datasets.prepare("ckplus/6class", tmp_path, tmp_path / "tfds")


def test_corrupt_image_names_the_file_and_leaves_nothing_half_built(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  write_zip(manual / "fer2013.zip", {
      "train/happy/Training_1.jpg": image_bytes(10, ".jpg"),
      "test/happy/PublicTest_2.jpg": image_bytes(20, ".jpg"),
      "test/sad/PrivateTest_3.jpg": b"\xff\xd8 truncated jpeg",
  })
  with pytest.raises(ValueError, match="PrivateTest_3.jpg"):
    datasets.prepare("fer2013", manual, tmp_path / "tfds")
  assert not datasets.get_builder("fer2013", tmp_path / "tfds").is_prepared()
  assert not datasets.get_builder("fer2013", tmp_path / "tfds").data_path.exists()


@pytest.mark.parametrize("members, message", [
    ({"train/joy/Training_1.jpg": image_bytes(1, ".jpg")}, "unknown class folder .*train/joy"),
    ({"train/happy/notes.txt": b"hi"}, "unexpected file .*train/happy/notes.txt"),
    ({"test/happy/Training_1.jpg": image_bytes(1, ".jpg")}, "a Training image under test/"),
    ({"train/happy/Training_1.jpg": image_bytes(1, ".jpg", size=64)},
     "Training_1.jpg is 64x64 pixels"),
])
def test_bad_image_folder_layout_names_the_place(tmp_path, members, message):
  write_zip(tmp_path / "fer2013.zip", members)
  with pytest.raises(ValueError, match=message):
    datasets.prepare("fer2013", tmp_path, tmp_path / "tfds")


@pytest.mark.parametrize("row, message", [
    ("3,1 2 3,Training",
     "row 0 \\(line 2\\): 3 pixel values; expected 2304 space-separated integers"),
    (f"3,{' '.join(['7'] * 2304)},Validation",
     "row 0 \\(line 2\\): unknown Usage 'Validation'; expected"),
    (f"9,{' '.join(['7'] * 2304)},Training",
     "row 0 \\(line 2\\): emotion 9; expected an integer in 0..6"),
    ("3.5,1 2,Training", "row 0 \\(line 2\\): emotion '3.5'; expected an integer in 0..6"),
    (f"2,{' '.join(['300'] * 2304)},Training", "row 0 \\(line 2\\): pixel values outside 0..255"),
    ("2,1 2 x,Training", "row 0 \\(line 2\\): pixels are not all integers; expected 2304"),
    ("2,1 2",
     "row 0 \\(line 2\\): 2 comma-separated fields; expected 3 \\(emotion, pixels, Usage\\)"),
])
def test_bad_csv_rows_name_the_row(tmp_path, row, message):
  (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n" + row + "\n")
  with pytest.raises(ValueError, match=message):
    datasets.prepare("fer2013", tmp_path, tmp_path / "tfds")


def test_ckplus_bad_layout_names_the_file(tmp_path):
  write_zip(tmp_path / "CK+48.zip", {"CK+48/happy/frame1.png": image_bytes(3)})
  with pytest.raises(ValueError, match="unexpected file .*CK\\+48/happy/frame1.png"):
    datasets.prepare("ckplus/7class", tmp_path, tmp_path / "tfds")
  write_zip(tmp_path / "CK+48.zip", {"CK+48/smile/S001_001_00000001.png": image_bytes(3)})
  with pytest.raises(ValueError, match="unknown class folder .*CK\\+48/smile"):
    datasets.prepare("ckplus/7class", tmp_path, tmp_path / "tfds")


def test_unknown_dataset_or_config_is_rejected():
  with pytest.raises(ValueError, match="unknown dataset 'affectnet'"):
    datasets.get_builder("affectnet")
  with pytest.raises(ValueError, match="unknown config '5class' of ckplus"):
    datasets.get_builder("ckplus/5class")


def test_builders_are_registered_with_tfds_by_name(fer2013_data, ckplus_data, tfds_dir):
  assert tfds.builder("ckplus/6class", data_dir=tfds_dir).info.splits["train"].num_examples == 927
  assert len(tfds.data_source("fer2013", split="private_test", data_dir=tfds_dir)) == 3589


def test_real_archives_record_their_source_and_consistent_statistics(fer2013_data, ckplus_data):
  assert datasets.recorded(fer2013_data, "source") == {
      "name": "fer2013.zip", "sha256": archive.digest(DATA_DIR / "fer2013.zip")}
  per_split = datasets.recorded(fer2013_data, "statistics")
  assert {s: per_split[s]["images"] for s in per_split} == {
      "train": 28709, "public_test": 3589, "private_test": 3589}
  assert all(s["size"] == "48x48" and 100 < s["mean"] < 160 for s in per_split.values())
  assert quality.departures(per_split) == []
  assert datasets.recorded(ckplus_data["7class"], "statistics")["train"]["images"] == 981


def test_blurred_training_split_is_refused_unless_allowed(tmp_path):
  small_fer2013_zip(tmp_path / "fer2013.zip", transform={"Training": blur})
  with pytest.raises(datasets.InconsistentSplitsError) as error:
    datasets.prepare("fer2013", tmp_path, tmp_path / "tfds")
  message = str(error.value)
  assert "\n" not in message and message.startswith(
      "fer2013 looks damaged: split train has sharpness")
  assert "split public_test" not in message and "split private_test" not in message
  ratio = float(
      re.search(
          r"split train has sharpness \(median variance of the Laplacian\) [\d,.]+, "
          r"([\d.e-]+)x the median over the splits \(train [\d,.]+, public_test [\d,.]+, "
          r"private_test [\d,.]+\)", message).group(1))
  assert ratio < 0.1
  builder = datasets.prepare("fer2013", tmp_path, tmp_path / "tfds", allow_inconsistent_splits=True)
  per_split = datasets.recorded(builder, "statistics")
  assert per_split["train"]["sharpness"] < per_split["public_test"]["sharpness"] / 10


def test_prepare_command_refuses_a_damaged_archive_in_one_line(tmp_path):
  small_fer2013_zip(tmp_path / "fer2013.zip", per_split=6, transform={"Training": blur})
  flags = ("--dataset=fer2013", f"--manual_dir={tmp_path}", f"--data_dir={tmp_path / 'tfds'}")
  refused = prepare_command(*flags)
  errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
  assert refused.returncode == 1 and len(errors) == 1 and "Traceback" not in refused.stderr
  assert "split train has sharpness" in errors[0] and errors[0].endswith(
      "; --allow_inconsistent_splits uses it anyway")
  allowed = prepare_command(*flags, "--allow_inconsistent_splits")
  assert allowed.returncode == 0, allowed.stderr
  assert "sharpness" in allowed.stdout and "reused" in allowed.stdout  # built by the refused call


def test_changed_archive_is_rebuilt_and_a_missing_one_leaves_the_prepared_copy(tmp_path, capsys):
  manual, tfds_dir = tmp_path / "manual", tmp_path / "tfds"
  manual.mkdir()
  small_fer2013_zip(manual / "fer2013.zip", first=0, per_split=4)
  datasets.prepare("fer2013", manual, tfds_dir)
  datasets.prepare("fer2013", manual, tfds_dir)
  assert "rebuilding" not in capsys.readouterr().out
  stored = small_fer2013_zip(manual / "fer2013.zip", first=4, per_split=4)
  builder = datasets.prepare("fer2013", manual, tfds_dir)
  assert "fer2013.zip is not the archive" in capsys.readouterr().out
  assert datasets.recorded(builder, "source")["sha256"] == archive.digest(manual / "fer2013.zip")
  (manual / "fer2013.zip").unlink()
  builder = datasets.prepare("fer2013", manual, tfds_dir)
  examples = {s: datasets.read_split(builder, s) for s in fer2013.SPLITS.values()}
  read = {
      i.decode(): image[..., 0] for e in examples.values() for i, image in zip(e["id"], e["image"])
  }
  assert read.keys() == stored.keys()
  for example_id, pixels in stored.items():
    np.testing.assert_array_equal(read[example_id], pixels)


def test_folder_digest_changes_with_any_file(tmp_path):
  (tmp_path / "happy").mkdir()
  (tmp_path / "happy" / "a.png").write_bytes(b"1")
  first = archive.digest(tmp_path)
  assert archive.digest(tmp_path) == first
  (tmp_path / "happy" / "a.png").write_bytes(b"22")
  second = archive.digest(tmp_path)
  (tmp_path / "happy" / "b.png").write_bytes(b"")
  assert len({first, second, archive.digest(tmp_path)}) == 3


def archive_images(path, members) -> np.ndarray:
  with archive.Archive(path) as source:
    return np.stack([source.image(m) for m in members])


def fer2013_and_ckplus_images(count: int) -> tuple[np.ndarray, np.ndarray]:
  """`count` FER2013 PublicTest images (equalised in the archive) and `count` raw CK+48 images."""
  with archive.Archive(DATA_DIR / "CK+48.zip") as source:
    ckplus = [m for m in source.members() if m.endswith(".png")]
  return (archive_images(DATA_DIR / "fer2013.zip", fer2013_members()["PublicTest"][:count]),
          archive_images(DATA_DIR / "CK+48.zip", ckplus[::len(ckplus) // count][:count]))


def test_equalisation_is_opencvs_on_the_host_and_in_the_graph():
  """`histogram.equalize` (preparing fer2013/equalized) and `equalize_crops` (inside the jitted and
  exported inference graph) both give cv2.equalizeHist to the bit, on equalised, raw, dull and
  constant images."""
  fer, ckplus = fer2013_and_ckplus_images(60)
  images = np.concatenate([fer, ckplus, fer // 4 + 90, ckplus // 64, np.full((2, 48, 48), 7)])
  images = images.astype(np.uint8)
  expected = np.stack([cv2.equalizeHist(pixels) for pixels in images])
  np.testing.assert_array_equal(np.stack([histogram.equalize(p) for p in images]), expected)
  np.testing.assert_array_equal(jax.jit(histogram.equalize_crops)(images), expected)
  np.testing.assert_array_equal(histogram.equalize_crops(images[None, :3]), expected[None, :3])


def test_the_fer2013_archive_reads_as_equalized_and_raw_faces_do_not():
  fer, ckplus = fer2013_and_ckplus_images(200)
  darker = (255 * (fer / 255.0)**1.5).astype(np.uint8)  # A raw-looking copy: gamma 1.5.
  assert histogram.is_equalized(fer)
  assert not histogram.is_equalized(ckplus) and not histogram.is_equalized(darker)
  assert histogram.is_equalized(np.stack([histogram.equalize(p) for p in ckplus]))


def test_equalized_config_equalizes_every_image_and_is_prepared_apart(tmp_path):
  dull = {usage: lambda p: (p // 4 + 90).astype(np.uint8) for usage in fer2013.SPLITS}
  stored = small_fer2013_zip(tmp_path / "fer2013.zip", per_split=5, transform=dull)
  unchanged = datasets.prepare("fer2013", tmp_path, tmp_path / "tfds")
  equalized = datasets.prepare("fer2013/equalized", tmp_path, tmp_path / "tfds")
  assert unchanged.builder_config.name == "unchanged" and unchanged.data_dir != equalized.data_dir
  equalized_pixels = {example_id: cv2.equalizeHist(pixels) for example_id, pixels in stored.items()}
  for builder, expected in ((unchanged, stored), (equalized, equalized_pixels)):
    for split in fer2013.SPLITS.values():
      examples = datasets.read_split(builder, split)
      for example_id, image in zip(examples["id"], examples["image"]):
        np.testing.assert_array_equal(image[..., 0], expected[example_id.decode()])
  statistics = datasets.recorded(equalized, "statistics")["train"]
  assert statistics["std"] > 3 * datasets.recorded(unchanged, "statistics")["train"]["std"]


def test_bad_csv_row_is_one_line_from_the_prepare_command(tmp_path):
  good = f"3,{' '.join(['7'] * 2304)},Training"
  bad = f"happy,{' '.join(['7'] * 2304)},Training"
  (tmp_path / "fer2013.csv").write_text(f"emotion,pixels,Usage\n{good}\n{good}\n{bad}\n")
  result = prepare_command("--dataset=fer2013", f"--manual_dir={tmp_path}",
                           f"--data_dir={tmp_path / 'tfds'}")
  assert result.returncode == 1
  assert result.stderr.strip() == (
      f"error: {tmp_path / 'fer2013.csv'} row 2 (line 4): emotion 'happy'; "
      "expected an integer in 0..6")
