"""Trained networks outside ferjax: the ONNX file against ferjax's probabilities on real CK+ and
FER2013 crops (paper 000's m6 through `python -m ferjax.export`, paper 002's MCSA in-process),
docs/LABELLING.md's onnxruntime lines run without JAX, and a portable file whose serialised function
JAX refuses, rebuilt from its weights."""

import json
import re
import subprocess
import sys
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import onnxruntime
import pytest
from PIL import Image
from conftest import DATA_DIR, REPO, TINY

from ferjax import compiling, models
from ferjax.configs import ck_msa
from ferjax.data.archive import Archive
from ferjax.inference import export, onnx_export
from ferjax.inference.classifier import Classifier
from ferjax.inference.preprocessing import Preprocessing

PARITY = 1e-4  # The bound on |onnxruntime - ferjax| per probability.


def real_crops(per_archive: int = 8) -> np.ndarray:
  """`per_archive` CK+48 faces (of different classes) and as many FER2013 PrivateTest faces."""
  crops = []
  for name, prefix in (("CK+48.zip", "CK+48/"), ("fer2013.zip", "test/")):
    with Archive(DATA_DIR / name) as source:
      members = [m for m in source.members() if m.startswith(prefix)]
      crops += [source.image(m) for m in members[::len(members) // per_archive][:per_archive]]
  return np.stack(crops)


def multiscale_classifier(equalize: bool = True) -> Classifier:
  """Paper 002's MCSA (channel and spatial attention) at the test width, initialised, not trained;
  its head's kernel scaled up so that the probabilities vary from face to face (at initialisation
  they are within 1e-4 of uniform, too flat for a parity check). It equalises each crop, as a model
  trained on FER2013's equalised archive does."""
  config = ck_msa.get_config(f"width={TINY}")
  model = models.get_model(config.model.name, **config.model.options)
  variables = compiling.once(model.init)(jax.random.key(0), jnp.zeros((1, 48, 48, 1)))
  head = variables["params"]["head"]
  variables["params"]["head"] = dict(head, kernel=head["kernel"] * 300.0)
  preprocessing = Preprocessing(config.input.size, config.input.mean, config.input.std, equalize)
  return Classifier(model, variables, [str(k) for k in range(6)], preprocessing, config,
                    source="initialised MCSA")


def onnxruntime_probabilities(path, crops: np.ndarray) -> np.ndarray:
  session = onnxruntime.InferenceSession(str(path))
  return session.run([onnx_export.OUTPUT], {onnx_export.INPUT: crops})[0]


def check_parity(classifier, path) -> None:
  crops = real_crops()
  expected = classifier.probabilities(crops)
  got = onnxruntime_probabilities(path, crops)
  assert got.shape == expected.shape == (len(crops), len(classifier.class_names))
  assert expected.std(axis=0).max() > 1e-3  # The network responds to its input: not a flat check.
  assert np.abs(got - expected).max() <= PARITY
  # The batch size is free: one crop alone gives its row of the batch.
  np.testing.assert_allclose(onnxruntime_probabilities(path, crops[3:4])[0], got[3], atol=1e-6)


def test_onnx_export_of_paper_000_matches_ferjax_and_runs_with_onnxruntime_alone(
    predict_workdir, tmp_path):
  path = tmp_path / "m6.onnx"
  command = [sys.executable, "-m", "ferjax.export", f"--workdir={predict_workdir}", f"--out={path}"]
  result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr
  classifier = Classifier.from_workdir(predict_workdir)
  check_parity(classifier, path)
  session = onnxruntime.InferenceSession(str(path))
  meta = session.get_modelmeta().custom_metadata_map
  assert json.loads(meta["class_names"]) == classifier.class_names
  assert (int(meta["size"]), float(meta["margin"])) == (48, 0.0)
  assert meta["equalize"] == "false"  # CK+'s images are raw: the workdir recorded so.
  assert json.loads(meta["model"])["options"]["ra"] is True

  # docs/LABELLING.md's lines, with JAX and ferjax made unimportable, on a real CK+ face.
  crop = real_crops(1)[0]
  Image.fromarray(crop).save(tmp_path / "face.png")
  (snippet,) = re.findall(r"<!-- onnx-example -->\n```python\n(.*?)```",
                          (REPO / "docs" / "LABELLING.md").read_text(), re.S)
  blocked = ("import sys\nfor name in ('jax', 'jaxlib', 'flax', 'ferjax'):\n"
             "  sys.modules[name] = None\n")
  script = blocked + snippet.replace("cka_quick.onnx", str(path)).replace(
      "face.png", str(tmp_path / "face.png"))
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr
  printed = json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))
  expected = classifier.probabilities(crop[None])[0]
  assert list(printed) == classifier.class_names
  np.testing.assert_allclose(list(printed.values()), expected, atol=2e-3)  # Printed to 3 places.


def test_onnx_export_of_paper_002_matches_ferjax_equalisation_included(tmp_path):
  classifier = multiscale_classifier()
  onnx_export.export_onnx(classifier, tmp_path / "mcsa.onnx", margin=0.1)
  check_parity(classifier, tmp_path / "mcsa.onnx")
  meta = onnxruntime.InferenceSession(str(tmp_path / "mcsa.onnx")).get_modelmeta()
  assert meta.custom_metadata_map["equalize"] == "true"
  crops = real_crops()  # Equalising changes what the network sees: the parity above includes it.
  unequalised = multiscale_classifier(equalize=False).probabilities(crops)
  assert np.abs(unequalised - classifier.probabilities(crops)).max() > 1e-2


def test_a_portable_file_whose_function_jax_refuses_is_rebuilt_and_rewritten_once(
    tmp_path, capsys):
  classifier = multiscale_classifier()
  path = tmp_path / "mcsa.ferjax"
  export.export(classifier, path, margin=0.0)
  crops = real_crops(2)
  expected = export.PortableClassifier.load(path).probabilities(crops)
  # The serialised function cut short: jax.export.deserialize refuses it, as JAX >= 0.11.1 refuses
  # one older than its compatibility window.
  with zipfile.ZipFile(path) as archive:
    members = {name: archive.read(name) for name in archive.namelist()}
  members[export.FUNCTION] = members[export.FUNCTION][:64]
  meta = json.loads(members["meta.json"])
  members["meta.json"] = json.dumps(dict(meta, jax="0.4.30")).encode()
  with zipfile.ZipFile(path, "w") as archive:
    for name, data in members.items():
      archive.writestr(name, data)
  with pytest.raises(Exception):
    jax.export.deserialize(bytearray(members[export.FUNCTION]))
  capsys.readouterr()

  assert meta["equalize"] is True
  rebuilt = export.PortableClassifier.load(path)
  said = capsys.readouterr().err
  assert f"{path}: JAX {jax.__version__} cannot load the function serialised by JAX 0.4.30" in said
  assert f"rebuilt it from the weights and config and wrote it into {path}" in said
  np.testing.assert_allclose(rebuilt.probabilities(crops), expected, atol=1e-6)
  again = export.PortableClassifier.load(path)  # The file now holds a serialisation JAX reads.
  assert capsys.readouterr().err == ""
  assert again.meta["jax"] == jax.__version__
  np.testing.assert_allclose(again.probabilities(crops), expected, atol=1e-6)


def test_rebuilding_without_ferjax_says_what_is_needed(tmp_path, monkeypatch):
  classifier = multiscale_classifier()
  path = tmp_path / "mcsa.ferjax"
  export.export(classifier, path, margin=0.0)
  with zipfile.ZipFile(path) as archive:
    members = {name: archive.read(name) for name in archive.namelist()}
  with zipfile.ZipFile(path, "w") as archive:
    for name, data in members.items():
      archive.writestr(name, b"expired" if name == export.FUNCTION else data)
  import ferjax
  monkeypatch.delattr(ferjax, "models")
  monkeypatch.setitem(sys.modules, "ferjax.models", None)
  with pytest.raises(ValueError, match="rebuilding it from the file's weights needs ferjax"):
    export.PortableClassifier.load(path)
