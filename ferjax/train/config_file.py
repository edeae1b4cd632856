"""`config.json`: the config a workdir was trained with, written by training and read by inference
(`ferjax.inference.classifier`) to rebuild the network. This module is the file's writer and reader.

Beside the config, the file records one fact about the training images that no config sets:
`input.equalized`, whether they were histogram-equalised one by one (measured on the prepared
training split, `ferjax.data.job.images_equalized`), so that inference equalises each face crop the
same way. A file written before it was recorded reads as not equalised.
"""

import json
import os
import pathlib

import ml_collections

from ferjax import models

FILE = "config.json"
EQUALIZED = "equalized"  # The key under "input": were the training images equalised one by one?


def write(workdir: pathlib.Path, config: ml_collections.ConfigDict, images_equalized: bool) -> None:
  """Writes `config`, and whether its training images were histogram-equalised, to the workdir."""
  stored = json.loads(config.to_json_best_effort())
  stored["input"][EQUALIZED] = images_equalized
  (workdir / FILE).write_text(json.dumps(stored, indent=2))


def read(workdir: os.PathLike) -> ml_collections.ConfigDict:
  """The config of a workdir: its own config.json, or its parent's for one fold of a CK+ fold=all
  workdir."""
  workdir = pathlib.Path(workdir)
  for folder in (workdir, workdir.parent):
    path = folder / FILE
    if path.is_file():
      try:
        stored = json.loads(path.read_text())
      except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it should be the config "
                         "python -m ferjax.main wrote") from None
      model = stored.get("model", {})
      model["options"] = models.stored_options(model.get("name"), model.get("options", {}))
      return ml_collections.ConfigDict(stored)
  raise FileNotFoundError(
      f"no {FILE} in {workdir}: is it a workdir made by python -m ferjax.main?")
