"""The README's main job: the configured model runs on a real CK+ image; bad input fails clearly."""

import subprocess
import sys

import numpy as np
import pytest

from configs import cka
from ferjax import inspect_model
from tests.conftest import DATA_DIR, REPO


def tiny_config(arg: str = "m6,width=0.125"):
  config = cka.get_config(arg)
  config.manual_dir = str(DATA_DIR)
  return config


def test_full_model_prints_probabilities_of_a_real_ckplus_image(capsys):
  probabilities = inspect_model.run(tiny_config(), "CK+48/happy/S010_006_00000013.png")
  assert list(probabilities) == list(cka.CLASSES)
  np.testing.assert_allclose(sum(probabilities.values()), 1.0, rtol=1e-5)
  printed = capsys.readouterr().out
  assert "S010_006_00000013.png" in printed and "global_map" in printed and "happy" in printed


def test_missing_archive_says_where_to_put_it(tmp_path):
  config = tiny_config()
  config.manual_dir = str(tmp_path)
  with pytest.raises(FileNotFoundError, match="FERJAX_MANUAL_DIR") as error:
    inspect_model.run(config)
  assert str(tmp_path) in str(error.value) and "CK+48.zip" in str(error.value)


def test_missing_member_and_corrupt_image_name_the_file(tmp_path):
  import zipfile
  archive = tmp_path / "broken.zip"
  with zipfile.ZipFile(archive, "w") as zf:
    zf.writestr("CK+48/happy/bad.png", b"not a png")
  with pytest.raises(ValueError, match="bad.png"):
    inspect_model.read_archive_image(str(archive))
  with pytest.raises(ValueError, match="broken.zip:nope.png"):
    inspect_model.read_archive_image(str(archive), "nope.png")


def test_config_rejects_unknown_rows_and_arguments():
  with pytest.raises(ValueError, match="Table 1 row 'm9'"):
    cka.get_config("m9")
  with pytest.raises(ValueError, match="unknown config argument 'depth'"):
    cka.get_config("m6,depth=3")


def test_main_module_runs_from_the_command_line():
  result = subprocess.run(
      [sys.executable, "-m", "ferjax.main", "--config=configs/cka.py:m2,width=0.125"],
      cwd=REPO, capture_output=True, text=True, env={"FERJAX_MANUAL_DIR": str(DATA_DIR),
                                                      "PATH": "/usr/bin:/bin"}, timeout=300)
  assert result.returncode == 0, result.stderr
  assert "class probabilities:" in result.stdout and "surprise" in result.stdout


def test_ci_runs_exactly_the_readme_test_command():
  readme = (REPO / "README.md").read_text()
  command = readme.split("<!-- test-command -->")[1].split("```")[1].strip().removeprefix("bash").strip()
  assert command in (REPO / ".ci" / "run").read_text()
