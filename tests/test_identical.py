"""launch/identical.py's comparison: two workdirs are identical up to their timings, and any other
difference in metrics.jsonl or results.json is named by file, line and key."""

import importlib.util
import json

from conftest import REPO

_SPEC = importlib.util.spec_from_file_location("identical", REPO / "launch" / "identical.py")
identical = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(identical)


def workdir(path, loss: float, wall_time_s: float, accuracy: float = 0.5):
  path.mkdir()
  rows = [{"step": 1, "split": "train", "loss": [loss]},
          {"step": 1, "split": "test", "accuracy": [0.5]}]
  (path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
  (path / "results.json").write_text(json.dumps({"accuracy": [accuracy], "wall_time_s": wall_time_s,
                                                 "images_per_second": wall_time_s / 3}))
  return path


def test_only_timings_may_differ(tmp_path):
  base = workdir(tmp_path / "base", 1.25, 10.0)
  assert identical.differences(base, workdir(tmp_path / "same", 1.25, 99.0)) == []
  found = identical.differences(base, workdir(tmp_path / "other", 1.2500001, 10.0, accuracy=0.75))
  assert len(found) == 2 and found[0].startswith("metrics.jsonl line 1:")
  assert found[1].startswith("results.json['accuracy']: [0.5] != [0.75]")
