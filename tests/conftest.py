"""Shared fixtures: real data from ../shared/data (raw images and prepared datasets), the tiny test
width, repository paths.

The suite runs on two pytest-xdist workers (pyproject.toml): what is costly to make (prepared
datasets, the trained workdir the labelling tests use) is made once under a file lock and shared by
both, and every test and every command a test starts uses one compilation cache.
"""

import hashlib
import os
import pathlib
from collections.abc import Callable

import filelock
import jax
import numpy as np
import pytest

from ferjax.data import archive, datasets
from ferjax.data.ckplus import PAPER_CLASSES as CLASSES

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data"
CKPLUS_ARCHIVE = DATA_DIR / "CK+48.zip"

TINY = 0.125

# Compiled programs persist between tests and runs, in this process, the other worker and every
# command a test starts (they inherit the variable): repeated trainings of one config compile once.
COMPILATION_CACHE = REPO / ".pytest_cache" / "jax"
os.environ["JAX_COMPILATION_CACHE_DIR"] = str(COMPILATION_CACHE)
jax.config.update("jax_compilation_cache_dir", str(COMPILATION_CACHE))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def shared(folder: pathlib.Path, make: Callable[[pathlib.Path], object]) -> pathlib.Path:
  """`folder`, made by `make(folder)` by whichever worker comes first while the other waits; made
  once, as its `.done` marker says."""
  folder.parent.mkdir(parents=True, exist_ok=True)
  with filelock.FileLock(str(folder) + ".lock"):
    if not folder.with_name(folder.name + ".done").exists():
      make(folder)
      folder.with_name(folder.name + ".done").touch()
  return folder


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> pathlib.Path:
  """A folder of this pytest session that both xdist workers see."""
  base = tmp_path_factory.getbasetemp()
  return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


# Test files, the longest first (measured with --durations on a 2-core CPU): each worker takes the
# next file as it finishes one, so the long ones start early and neither worker ends alone. The
# second stack's install and commands (tests/test_newest_stack.py) run beside all the others.
LONGEST_FIRST = ("test_newest_stack.py", "test_main.py", "test_scale_out.py", "test_parity.py",
                 "test_fer2013.py", "test_lease.py", "test_label_inputs.py", "test_training.py",
                 "test_predict.py", "test_export.py", "test_bench.py", "test_models.py",
                 "test_sweep.py", "test_study.py", "test_data.py", "test_diagnostics.py",
                 "test_shipped.py", "test_report.py", "test_sources.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
  rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
  items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def ckplus_batch(per_class: int) -> tuple[np.ndarray, np.ndarray]:
  """`per_class` real CK+48 images of each of the 6 classes, as (N, 48, 48, 1) float32 and
  labels."""
  images, labels = [], []
  with archive.Archive(CKPLUS_ARCHIVE) as source:
    names = source.members()
    for label, cls in enumerate(CLASSES):
      members = [n for n in names if n.startswith(f"CK+48/{cls}/")]
      # Frames from different sequences: every third file skips a sequence's near-duplicates.
      for member in members[::3][:per_class]:
        images.append(source.image(member))
        labels.append(label)
  x = np.stack(images).astype(np.float32)[..., None] / 255.0
  return x, np.asarray(labels, np.int32)


@pytest.fixture(scope="session")
def ckplus_images() -> tuple[np.ndarray, np.ndarray]:
  return ckplus_batch(per_class=2)


@pytest.fixture(scope="session")
def tfds_dir(request) -> pathlib.Path:
  """Where the session's prepared datasets live: pytest's cache, keyed by the builders' source code
  and the archives' sha256, so full datasets are built once and rebuilt only when a builder or an
  archive changes."""
  sources = sorted((REPO / "ferjax" / "data").glob("*.py"))
  builders = ("archive", "fer2013", "ckplus", "histogram", "quality")
  code = b"".join(p.read_bytes() for p in sources if p.stem in builders)
  archives = "".join(
      archive.digest(DATA_DIR / name) for name in ("fer2013.zip", "CK+48.zip")).encode()
  digest = hashlib.sha256(code + archives).hexdigest()[:12]
  return pathlib.Path(request.config.cache.mkdir(f"ferjax_tfds_{digest}"))


def prepared(name: str, tfds_dir: pathlib.Path):
  """The dataset `name` prepared from ../shared/data once (the first worker builds it, under a
  lock), then loaded."""
  with filelock.FileLock(str(tfds_dir) + ".lock"):
    return datasets.prepare(name, DATA_DIR, tfds_dir)


@pytest.fixture(scope="session")
def fer2013_data(tfds_dir):
  """The full FER2013 dataset prepared from ../shared/data/fer2013.zip."""
  return prepared("fer2013", tfds_dir)


@pytest.fixture(scope="session")
def ckplus_data(tfds_dir):
  """Both CK+48 configs prepared from ../shared/data/CK+48.zip: {'6class': builder, '7class':
  builder}."""
  return {config: prepared(f"ckplus/{config}", tfds_dir) for config in ("6class", "7class")}


@pytest.fixture(scope="session")
def predict_workdir(ckplus_data, tfds_dir, session_dir) -> pathlib.Path:
  """Paper 000's m6 at the test width, trained for one epoch on 128 faces of CK+ fold 0: the model
  the labelling and export tests run (trained once for both workers)."""
  from ferjax.configs import cka
  from ferjax.train import loop
  config = cka.get_config(f"m6,epochs=1,width={TINY},views=random,subset=128")
  config.data_dir, config.manual_dir = str(tfds_dir), str(DATA_DIR)
  return shared(session_dir / "predict" / "m6", lambda path: loop.train_and_evaluate(config, path))
