"""The second stack: tests/newest_stack.sh installs ferjax for Python 3.12 with the newest JAX, flax
and optax that pip resolves, and runs the installed commands from outside the checkout (the quick
main job and evaluate, a study and its table, predict, export and ONNX). It is the suite's longest
test and is collected first (tests/conftest.py), so that it runs beside the others."""

import subprocess

from conftest import REPO


def test_the_installed_commands_run_on_python_312_with_the_newest_jax(session_dir):
  log = session_dir / "newest_stack.log"
  with log.open("w") as out:
    done = subprocess.run([str(REPO / "tests" / "newest_stack.sh")], cwd=REPO, stdout=out,
                          stderr=subprocess.STDOUT, timeout=1800)
  text = log.read_text()
  assert done.returncode == 0, f"tests/newest_stack.sh failed ({log}):\n{text[-6000:]}"
  steps = [line for line in text.splitlines() if line.startswith("== newest stack:")]
  print("\n".join(steps))
  assert steps[-1].startswith("== newest stack: done"), steps
