"""ferjax.analysis.report on small synthetic workdirs: numbers, variant names, paper numbers,
pictures, errors."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ferjax.analysis import report
from ferjax.study import published

REPO = pathlib.Path(__file__).resolve().parents[1]
FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
CK_CLASSES = ["anger", "disgust", "fear", "happy", "sadness", "surprise"]
MCA = {"channel_attention": True, "spatial_attention": False, "width": 1.0}
CONTEXTUAL_M5 = {"fusion": True, "gcca": True, "pd": True, "ra": True, "width": 0.25}


def write_metrics(path: pathlib.Path, runs: int, steps_per_epoch: int, epochs: int,
                  validation: bool) -> None:
  """Train lines every 5 steps and at each epoch's end, validation at each epoch's end; step 5 is
  written twice (as a resumed run does), the first time with a wrong loss of 99."""
  lines = [{"step": 5, "epoch": 5 / steps_per_epoch, "split": "train", "loss": [99.0] * runs,
            "softmax": [1.0] * runs, "accuracy": [0.1] * runs}]
  for step in range(1, epochs * steps_per_epoch + 1):
    epoch = step / steps_per_epoch
    if step % 5 == 0 or step % steps_per_epoch == 0:
      lines.append({"step": step, "epoch": round(epoch, 3), "split": "train",
                    "loss": [2.0 / epoch + 0.1 * run for run in range(runs)],
                    "softmax": [1.5 / epoch] * runs, "accuracy": [0.3 + 0.05 * epoch + 0.01 * run
                                                                   for run in range(runs)],
                    "grad_norm": [1.0] * runs, "learning_rate": [0.01] * runs})
    if validation and step % steps_per_epoch == 0:
      lines.append({"step": step, "epoch": epoch, "split": "validation",
                    "loss": [1.8 / epoch] * runs, "accuracy": [0.35 + 0.04 * epoch] * runs})
  lines.append({"step": epochs * steps_per_epoch, "epoch": float(epochs), "split": "test",
                "accuracy": [0.5] * runs})
  path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def results(dataset, model, options, loss, split, fold, classes, accuracy, confusion_scale=1,
            **extra):
  """A results.json dict as ferjax.train.loop writes it, with made-up per-class numbers."""
  k, runs = len(classes), len(accuracy)
  per_class = [[0.5 + 0.05 * c + 0.01 * r for c in range(k)] for r in range(runs)]
  confusion = [(np.eye(k, dtype=int) * (10 + r) + confusion_scale).tolist() for r in range(runs)]
  return dict(dataset=dataset, model=model, options=options, loss=loss, split=split, fold=fold,
              classes=classes, num_runs=runs, num_epochs=3, accuracy=accuracy,
              acc=float(np.mean(accuracy)), sta=float(np.std(accuracy)),
              per_class_accuracy=per_class, confusion=confusion, best_epoch=[3] * runs,
              wall_time_s=3725.0, **extra)


def write_workdir(path: pathlib.Path, result: dict, metrics: dict | None) -> pathlib.Path:
  path.mkdir(parents=True)
  config = {"dataset": result["dataset"], "num_runs": result["num_runs"]}
  (path / "config.json").write_text(json.dumps(config))
  (path / "results.json").write_text(json.dumps(result))
  if metrics is not None:
    write_metrics(path / "metrics.jsonl", result["num_runs"], **metrics)
  return path


@pytest.fixture
def workdirs(tmp_path) -> dict[str, pathlib.Path]:
  """FER2013 m6 (2 runs, validation), CK+ m3 over folds 0 and 1 (2 runs each), FER2013 MCA
  (1 run)."""
  fer = write_workdir(tmp_path / "runs" / "fer_m6",
                      results("fer2013", "contextual", CONTEXTUAL_M5, "island", "private_test",
                              None, FER_CLASSES, [0.7110, 0.7330]),
                      {"steps_per_epoch": 10, "epochs": 3, "validation": True})
  ck = tmp_path / "runs" / "ck_m3"
  m3 = {"fusion": True, "gcca": True, "pd": False, "ra": False, "width": 1.0}
  folds = [[0.95, 0.97], [0.91, 0.99]]
  for fold, accuracy in enumerate(folds):
    write_workdir(ck / f"fold_{fold}",
                  results("ckplus/6class", "contextual", m3, "softmax", f"fold {fold}", fold,
                          CK_CLASSES, accuracy),
                  {"steps_per_epoch": 4 + 4 * fold, "epochs": 2, "validation": False})
  (ck / "results.json").write_text(json.dumps(results(
      "ckplus/6class", "contextual", m3, "softmax", "all folds", None, CK_CLASSES,
      np.mean(folds, axis=0).tolist(), confusion_scale=2,
      fold_accuracy=np.mean(folds, axis=1).tolist())))
  mca = write_workdir(tmp_path / "runs" / "fer_mca",
                      results("fer2013", "multiscale", MCA, "dda", "private_test", None,
                              FER_CLASSES, [0.6543]),
                      {"steps_per_epoch": 6, "epochs": 2, "validation": True})
  return {"fer": fer, "ck": ck, "mca": mca}


def test_variant_names():
  m5 = dict(CONTEXTUAL_M5)
  assert report.variant_name("contextual", m5, "softmax") == "m5"
  assert report.variant_name("contextual", m5, "island") == "m6"
  assert report.variant_name("contextual", dict(m5, pd=False, ra=False), "softmax") == "m3"
  assert report.variant_name("contextual", {}, "softmax") == "m1"
  assert report.variant_name("contextual", dict(m5, pd=False, ra=False), "island") == "m3+island"
  assert report.variant_name("contextual", {"fusion": False, "gcca": True}, "softmax") is None
  assert report.variant_name("multiscale", {"channel_attention": True}, "dda") == "MCA"
  assert report.variant_name("multiscale", dict(MCA, spatial_attention=True), "softmax") == "MCSA"
  assert report.variant_name("multiscale", {}, "softmax") == "M"


def test_paper_numbers_as_published():
  assert published.PAPER_000_TABLE_1["fer2013"]["m6"] == (74.08, 0.24)
  assert published.PAPER_000_TABLE_1["ckplus"]["m6"] == (98.66, 0.11)
  assert published.PAPER_000_TABLE_1["ckplus"]["m1"] == (92.14, 0.31)
  proposed = published.PAPER_000_TABLE_2["Proposed method (m6)"]
  assert proposed == {"fer2013": (74.08, 0.24), "ckplus": (98.66, 0.11)}
  assert not published.PAPER_002_VARIANTS["fer2013"] and not published.PAPER_002_VARIANTS["ckplus"]


def table_row(text: str, first_cell: str) -> list[str]:
  """The cells of the Markdown table row whose first cell is `first_cell`."""
  for line in text.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if line.startswith("|") and cells[0] == first_cell:
      return cells
  raise AssertionError(f"no row {first_cell!r} in:\n{text}")


def test_report(workdirs, tmp_path):
  output = tmp_path / "out"
  text = report.build_report([workdirs["fer"], workdirs["ck"], workdirs["mca"]], output)
  assert (output / "report.md").read_text() == text

  fer = table_row(text, "fer_m6")
  assert fer[1:6] == ["fer2013", "contextual m6 (width 0.25)", "island", "private_test", "2"]
  assert fer[6:8] == [
      f"{100 * np.mean([0.7110, 0.7330]):.2f}", f"{100 * np.std([0.7110, 0.7330]):.2f}"
  ]
  assert fer[6:8] == ["72.20", "1.10"]
  assert "angry: 50.5%" in fer[8] and "neutral: 80.5%" in fer[8]  # Mean of runs 0 and 1.
  assert fer[9] == "1h02m05s"
  ck = table_row(text, "ck_m3")
  assert ck[1:6] == ["ckplus/6class", "contextual m3", "softmax", "all folds", "2"]
  assert ck[6:8] == ["95.50", "2.50"]  # Runs: mean over folds 0.93 and 0.98.
  mca = table_row(text, "fer_mca")
  assert mca[2] == "multiscale MCA" and mca[6:8] == ["65.43", "0.00"]

  side = text.split("## Side by side with the papers")[1].split("##")[0]
  fer = table_row(side, "FER2013 (fer2013)")
  assert fer[1:7] == ["m6", "74.08 (paper 000 Table 1)", "0.24", "72.20 ± 1.10", "-1.88", "2"]
  assert "PrivateTest" in fer[8] and "width 0.25" in fer[8]
  ck = table_row(side, "CK+ (ckplus/6class)")
  assert ck[1:6] == ["m3", "96.72 (paper 000 Table 1)", "0.24", "95.50 ± 2.50", "-1.22"]
  assert "subject-independent folds" in ck[8]
  assert "| MCA | not in text" in side

  table2 = text.split("## Paper 000 Table 2")[1].split("##")[0]
  assert table_row(table2, "Proposed method (m6)")[1:] == ["74.08", "0.24", "98.66", "0.11"]
  assert table_row(table2, "ferjax m6 (fer_m6, 2 runs)")[1:] == ["72.20", "1.10", "–", "–"]
  assert table_row(table2, "Liu et al. [15]")[1:] == ["72.01", "0.35", "96.49", "0.29"]

  for name in ("fer_m6", "ck_m3", "fer_mca"):
    for kind in ("confusion", "curves"):
      assert f"]({name}_{kind}.png)" in text
      with Image.open(output / f"{name}_{kind}.png") as image:
        image.verify()
        assert image.format == "PNG" and min(image.size) > 100


def test_leaky_protocols_are_named_in_the_side_by_side_table(workdirs, tmp_path):
  ck = workdirs["ck"]
  for fold in ck.glob("fold_*"):
    results = json.loads((fold / "results.json").read_text())
    (fold / "results.json").write_text(json.dumps({**results, "protocol": "leaky_random"}))
  results = json.loads((ck / "results.json").read_text())
  (ck / "results.json").write_text(json.dumps({**results, "protocol": "leaky_random"}))
  side = report.build_report([ck], tmp_path / "out").split("## Side by side with the papers")[1]
  assert "LEAKY random 9:1 image splits x 10 seeds" in table_row(side, "CK+ (ckplus/6class)")[8]


def test_shared_classes_get_columns(workdirs, tmp_path):
  text = report.build_report([workdirs["fer"], workdirs["mca"]], tmp_path / "out")
  header = next(line for line in text.splitlines() if line.startswith("| name"))
  assert "| angry % |" in header and "| neutral % |" in header
  assert table_row(text,
                   "fer_mca")[8:15] == ["50.0", "55.0", "60.0", "65.0", "70.0", "75.0", "80.0"]


def test_learning_curves_pool_folds_and_drop_rewritten_steps(workdirs):
  fer = report.learning_curve_panels(report.load_workdir(workdirs["fer"]))
  labels = {panel: [c[0] for c in curves] for panel, curves in fer.items()}
  assert labels == {
      "loss": ["train", "train softmax", "validation"],
      "accuracy": ["train", "validation"]
  }
  epochs, loss = fer["loss"][0][1:]
  # Step 5's second write replaced the first.
  assert loss.shape == (len(epochs), 2) and loss.max() < 99
  np.testing.assert_allclose(fer["accuracy"][1][1], [1, 2, 3])

  ck = report.learning_curve_panels(report.load_workdir(workdirs["ck"]))
  assert [c[0] for c in ck["loss"]] == ["train"]  # Softmax loss: no separate part; no validation.
  epochs, accuracy = ck["accuracy"][0][1:]
  # Folds have 4 and 8 steps per epoch and both log epoch 1.25; only whole epochs are pooled.
  np.testing.assert_allclose(epochs, [1, 2])
  assert accuracy.shape == (2, 4)  # 2 folds x 2 runs.


def test_unfinished_workdir_is_named(workdirs, tmp_path):
  unfinished = tmp_path / "runs" / "half_done"
  unfinished.mkdir()
  (unfinished / "metrics.jsonl").write_text("")
  with pytest.raises(report.ReportError, match=r"half_done: no results.json.*train it first"):
    report.build_report([workdirs["fer"], unfinished], tmp_path / "out")
  assert not (tmp_path / "out" / "report.md").exists()
  with pytest.raises(report.ReportError, match="no such workdir"):
    report.build_report([tmp_path / "missing"])


def test_command_line(workdirs, tmp_path):
  output = tmp_path / "cli"
  command = [sys.executable, "-m", "ferjax.report", str(workdirs["fer"]), str(workdirs["mca"]),
             f"--output={output}"]
  done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60,
                        check=False)
  assert done.returncode == 0, done.stderr
  assert done.stdout == (output / "report.md").read_text()
  assert "| m6 | 74.08 (paper 000 Table 1) |" in done.stdout

  done = subprocess.run([sys.executable, "-m", "ferjax.report", str(tmp_path / "runs")], cwd=REPO,
                        capture_output=True, text=True, timeout=60,
                        check=False)
  assert done.returncode == 1
  assert done.stderr.strip() == (
      f"error: {tmp_path / 'runs'}: no results.json, so the run is "
      "unfinished or was never trained; train it first (python -m ferjax.main "
      f"--config=... --workdir={tmp_path / 'runs'})")


def test_default_output_is_first_workdirs_parent(workdirs):
  report.build_report([workdirs["mca"]])
  assert (workdirs["mca"].parent / "report.md").is_file()
  assert (workdirs["mca"].parent / "fer_mca_confusion.png").is_file()


def test_branch_diagnostics_get_their_own_log_scale_panels(workdirs, tmp_path):
  """A workdir trained with diagnostics=true: its 'energy/<branch>' and 'grad/<branch>' train
  metrics become the panels 'branch energy' and 'branch gradient', a curve per branch."""
  path = workdirs["fer"] / "metrics.jsonl"
  rows = [json.loads(line) for line in path.read_text().splitlines()]
  for row in rows:
    if row["split"] == "train":
      row |= {"energy/c2": [1.0, 1.5], "energy/l3": [0.01, 0.02], "grad/c2": [0.1, 0.1],
              "grad/l3": [0.001, 0.002]}
  path.write_text("".join(json.dumps(row) + "\n" for row in rows))
  panels = report.learning_curve_panels(report.load_workdir(workdirs["fer"]))
  assert {panel: [c[0] for c in curves] for panel, curves in panels.items()
          if panel.startswith("branch")} == {"branch energy": ["c2", "l3"],
                                             "branch gradient": ["c2", "l3"]}
  assert report.write_pictures(report.load_workdir(workdirs["fer"]), tmp_path, "fer")["curves"]
