"""The main job: configs load for every file and switch, training runs end to end on real CK+ folds,
runs are independent, a stopped run resumes exactly, and bad input fails with one clear line."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from absl import flags
from conftest import DATA_DIR, REPO

from ferjax import cli, configs
from ferjax.configs import ck_msa, cka, fer2013, fer2013_msa
from ferjax.train import checks, loop

CONFIG_ARGS = [
    (cka, a)
    for a in ("", "m1", "m2", "m3", "m4", "m5", "m6", "m3,fold=all,runs=10", "quick", "size=224",
              "source=grain", "lambda1_sweep", "m6,tta_report", "m1,pretrained=x.pth")
]
CONFIG_ARGS += [(fer2013, a) for a in ("", "m1", "m6,runs=3", "lambda_sweep")]
CONFIG_ARGS += [(module, a) for module in (fer2013_msa, ck_msa)
                for a in ("", "M", "MCA", "MSA", "MCSA", "gamma_sweep", "loss_sweep")]


@pytest.mark.parametrize("module, arg",
                         CONFIG_ARGS,
                         ids=[f"{m.__name__}:{a}" for m, a in CONFIG_ARGS])
def test_every_config_and_switch_loads_and_passes_the_checks(module, arg):
  config = module.get_config(arg)
  checks.check_config(config)
  assert config.model.options.num_classes == (7 if config.dataset == "fer2013" else 6)


def test_config_rejects_unknown_rows_and_arguments():
  with pytest.raises(ValueError, match="Table 1 row 'm9'"):
    cka.get_config("m9")
  with pytest.raises(ValueError, match="unknown config argument 'depth'"):
    cka.get_config("m6,depth=3")
  with pytest.raises(ValueError, match="paper 002 variant 'XYZ'"):
    ck_msa.get_config("XYZ")
  config = cka.get_config("")
  config.loss.name = "focal"
  with pytest.raises(ValueError, match="config.loss.name = 'focal'"):
    checks.check_config(config)
  config = cka.get_config("")
  config.model.name = "resnet"
  with pytest.raises(ValueError, match="unknown model 'resnet'"):
    checks.check_config(config)
  for arg, message in (("width=0", "model.options.width = 0.0; expected a positive"),
                       ("width=-1", "model.options.width = -1.0; expected a positive")):
    with pytest.raises(ValueError, match=message):
      checks.check_config(cka.get_config(arg))
  config = cka.get_config("")
  config.model.options.dropout = 1.0
  with pytest.raises(ValueError, match=r"dropout = 1.0; expected a rate in \[0, 1\)"):
    checks.check_config(config)


def train_losses(workdir) -> np.ndarray:
  """(logged steps, runs) training losses from a workdir's metrics.jsonl."""
  rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return np.array([row["loss"] for row in rows if row["split"] == "train"])


def tiny(arg: str, tfds_dir, **overrides):
  """`arg` at the tiny width on 128 training images of each fold (4 steps an epoch), every step
  logged."""
  config = cka.get_config(f"{arg},width=0.125,views=random,subset=128")
  config.data_dir, config.manual_dir = str(tfds_dir), str(DATA_DIR)
  config.log_every_steps = 1
  for key, value in overrides.items():
    config[key] = value
  return config


def test_the_grain_source_trains_exactly_like_the_device_source(ckplus_data, tfds_dir, tmp_path):
  streamed = loop.train_and_evaluate(tiny("m2,epochs=1,source=grain", tfds_dir), tmp_path / "grain")
  resident = loop.train_and_evaluate(tiny("m2,epochs=1", tfds_dir), tmp_path / "device")
  np.testing.assert_array_equal(train_losses(tmp_path / "grain"), train_losses(tmp_path / "device"))
  assert streamed.accuracy == resident.accuracy


@pytest.fixture(scope="module")
def straight_m6(ckplus_data, tfds_dir, tmp_path_factory):
  """m6 trained for two epochs without a stop: what a resumed or repaired run must end as."""
  workdir = tmp_path_factory.mktemp("straight") / "m6"
  return workdir, loop.train_and_evaluate(tiny("m6,epochs=2", tfds_dir), workdir)


def test_evaluate_and_inference_find_the_folds_of_an_all_folds_workdir(ckplus_data, tfds_dir,
                                                                        tmp_path, capsys):
  """fold=all (two folds here): --mode=evaluate reproduces every fold and the summary, the
  classifier finds the fold it is asked for, and evaluating a workdir without checkpoints names it
  and creates nothing."""
  from ferjax.inference.classifier import Classifier
  config = tiny("m1,epochs=1,fold=all", tfds_dir)
  config.folds.num_folds = 2
  workdir = tmp_path / "all"
  trained = loop.train_and_evaluate(config, workdir)
  evaluated = loop.evaluate_workdir(config, workdir, None)
  assert evaluated.accuracy == trained.accuracy
  assert evaluated.fold_accuracy == trained.fold_accuracy and len(trained.fold_accuracy) == 2
  assert not (workdir / "checkpoints").exists()
  capsys.readouterr()
  assert "fold_1 step" in Classifier.from_workdir(workdir, fold=1).source
  assert "using fold_1 (--fold picks another)" in capsys.readouterr().err
  with pytest.raises(FileNotFoundError, match="no checkpoint in .*empty/checkpoints"):
    loop.evaluate_workdir(tiny("m1,epochs=1", tfds_dir), tmp_path / "empty", None)
  assert not (tmp_path / "empty").exists()


def test_a_damaged_newest_checkpoint_is_set_aside_and_the_run_goes_on_from_the_one_before(
    straight_m6, tfds_dir, tmp_path, capsys):
  """One truncated file in the newest checkpoint: the rerun names it in one line, keeps it in
  checkpoints_damaged/, resumes from the previous checkpoint (the first epoch's: m6's centres and
  optimiser state with it) and ends as the uninterrupted run, which --mode=evaluate reproduces."""
  workdir = tmp_path / "run"
  shutil.copytree(straight_m6[0], workdir)
  straight = straight_m6[1]
  newest = max((p for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()),
               key=lambda p: int(p.name))
  largest = max((p for p in (newest / "state").rglob("*") if p.is_file()),
                key=lambda p: p.stat().st_size)
  largest.write_bytes(largest.read_bytes()[:64])
  capsys.readouterr()
  again = loop.train_and_evaluate(tiny("m6,epochs=2", tfds_dir), workdir)
  lines = [line for line in capsys.readouterr().err.splitlines() if "damaged checkpoint" in line]
  assert len(lines) == 1 and f"checkpoints/{newest.name}" in lines[0], lines
  assert (workdir / "checkpoints_damaged" / newest.name / "state").is_dir()
  assert again.accuracy == straight.accuracy and again.confusion == straight.confusion
  evaluated = loop.evaluate_workdir(tiny("m6,epochs=2", tfds_dir), straight_m6[0], None)
  assert evaluated.accuracy == straight.accuracy


def run_main(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "ferjax.main", *args], cwd=REPO, capture_output=True,
                        text=True, timeout=300)


BAD_ARGUMENTS = {
    "unknown variant": (["--config=configs/cka.py:m7"], "unknown Table 1 row 'm7'"),
    "misspelt argument": (["--config=configs/cka.py:quick,widht=0.5"],
                          "unknown config argument 'widht'"),
    "unknown flag": (["--config=configs/cka.py", "--epochs=3"],
                     "Unknown command line flag 'epochs'"),
}


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENTS))
def test_bad_config_arguments_are_one_line_on_stderr(name, capsys):
  args, message = BAD_ARGUMENTS[name]
  flag_values = flags.FlagValues()
  configs.define_flag("config", "", flag_values=flag_values)
  with pytest.raises(SystemExit) as exit_info:
    cli.parse_flags(["main", *args], flag_values)
  stderr = capsys.readouterr().err
  assert exit_info.value.code == 1
  assert stderr.count("\n") == 1 and stderr.startswith("error: ") and message in stderr, stderr


# Overrides (--config.<key>) and a missing file fail only in the real command's flag parsing.
@pytest.mark.parametrize("args, message", [
    (["--config=configs/cka.py:quick", "--config.nonsense=3"], "unknown config key 'nonsense'"),
    (["--config=configs/cka.py", "--config.input.nope=1"], "unknown config key 'nope'"),
    (["--config=configs/cka.py", "--config.num_epochs=abc"], "invalid literal for int()"),
    (["--config=configs/nofile.py"], "no file 'configs/nofile.py' and no shipped config"),
    (["--config=configs/cka.py:views=sideways"], "config.input.views = 'sideways'")],
    ids=["key", "nested key", "value", "file", "choice"])
def test_bad_config_input_fails_the_command_before_any_work(args, message, tmp_path):
  result = run_main(*args, f"--workdir={tmp_path / 'w'}")
  assert result.returncode == 1, result.stderr
  assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
  assert message in result.stderr and "Traceback" not in result.stderr
  assert not (tmp_path / "w").exists()


def test_missing_dataset_names_the_prepare_command(tmp_path):
  result = run_main("--config=configs/cka.py:quick", f"--workdir={tmp_path / 'w'}",
                    f"--config.data_dir={tmp_path / 'tfds'}", f"--config.manual_dir={tmp_path}")
  assert result.returncode == 1
  assert "python -m ferjax.data.prepare --dataset=ckplus" in result.stderr
  assert "Traceback" not in result.stderr
  assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


def test_unwritable_workdir_is_one_line_error(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("")
  result = run_main("--config=configs/cka.py:quick", f"--workdir={blocker / 'w'}")
  assert result.returncode == 1 and "not writable" in result.stderr
