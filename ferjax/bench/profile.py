"""Where a compiled ferjax train step spends its time: a per-op profile from the JAX profiler.

The step runs under `jax.profiler` for a few steps; the trace's op events (GPU: the "XLA Ops" lines
of the device planes; CPU: the XLA worker threads' thunks) are summed per HLO instruction and tied
back to the instruction's text in the compiled module: its output shape and the source operation
(`op_name`, e.g. `.../backbone/block1_conv2/conv/conv_general_dilated`, under `transpose(jvp(...))`
for the backward pass). Ops are also summed by kind (the instruction name without its number, e.g.
`ynn_fusion`: convolutions XLA:CPU hands to YNNPACK, `loop_fusion`, `transpose_copy_fusion`).
On a CPU the two worker threads' times add up, so the total can exceed the step's wall time.
"""

import collections
import pathlib
import re
import tempfile

import jax

from ferjax.bench import cases, ferjax_steps, timing

SKIPPED_EVENTS = ("ThunkExecutor", "SlinkyThreadPool", "Execute", "PjRt", "$")


def _op_events(profile_data) -> collections.Counter:
  """Nanoseconds per op name, from the device's op lines (GPU) or the XLA CPU worker threads."""
  gpu, cpu = collections.Counter(), collections.Counter()
  for plane in profile_data.planes:
    for line in plane.lines:
      on_device = plane.name.startswith("/device:") and line.name == "XLA Ops"
      on_cpu_worker = plane.name.startswith("/host:") and "XLAEigen" in line.name
      if not (on_device or on_cpu_worker):
        continue
      for event in line.events:
        if not event.name.startswith(SKIPPED_EVENTS):
          (gpu if on_device else cpu)[event.name] += event.duration_ns
  return gpu or cpu


def _instructions(hlo_text: str) -> dict[str, tuple[str, str]]:
  """HLO instruction name -> (output shape, source op_name) for every instruction of the module."""
  found = {}
  pattern = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\S+)")
  for line in hlo_text.splitlines():
    match = pattern.match(line)
    if match:
      source = re.search(r'op_name="([^"]*)"', line)
      found.setdefault(match.group(1), (match.group(2), source.group(1) if source else ""))
  return found


def profile(case: cases.Case, steps: int, warmup: int, top: int = 25) -> dict:
  """The case's single-run train step, profiled over `steps` steps after `warmup`."""
  from jax.profiler import ProfileData

  compiled, _, step = ferjax_steps.compiled_train_step(case)
  measured = timing.time_steps(step, jax.block_until_ready, steps, warmup)
  with tempfile.TemporaryDirectory() as trace_dir:
    jax.profiler.start_trace(trace_dir)
    for i in range(steps):
      jax.block_until_ready(step(i))
    jax.profiler.stop_trace()
    traces = sorted(pathlib.Path(trace_dir).rglob("*.xplane.pb"))
    if not traces:
      raise RuntimeError(f"the JAX profiler wrote no trace under {trace_dir}")
    events = _op_events(ProfileData.from_file(str(traces[-1])))
  instructions = _instructions(compiled.as_text())
  per_step = {name: ns / steps / 1e6 for name, ns in events.items()}
  kinds = collections.Counter()
  for name, ms in per_step.items():
    kinds[re.sub(r"[.\d]+$", "", name)] += ms
  ops = []
  for name, ms in sorted(per_step.items(), key=lambda item: -item[1])[:top]:
    shape, source = instructions.get(name, ("", ""))
    ops.append(dict(op=name, ms=ms, shape=shape, source=source))
  return dict(variant=case.variant, batch=case.batch, image_size=case.image_size, dtype=case.dtype,
              step_ms=measured.step_s * 1e3, op_ms_total=sum(per_step.values()),
              kinds=[dict(kind=k, ms=v) for k, v in kinds.most_common(12)], ops=ops,
              device=timing.describe_device())


def _source(text: str) -> str:
  """The informative tail of an op_name: direction and module path."""
  backward = "backward " if "transpose(" in text else ""
  path = re.sub(r"^jit\([^)]*\)/", "", text)
  path = re.sub(r"(transpose\()?(jvp\()?", "", path).replace(")", "")
  return backward + path[-70:]


def format_profile(result: dict) -> str:
  lines = [
      f"profile: {result['variant']} train step, batch {result['batch']}, "
      f"{result['image_size']} px, "
      f"{result['dtype']}, on {result['device']}: median step {result['step_ms']:.1f} ms, op time "
      f"{result['op_ms_total']:.1f} ms per step", "  by kind:"
  ]
  lines += [f"    {k['ms']:9.1f} ms  {k['kind']}" for k in result["kinds"]]
  lines.append("  top ops:")
  lines += [f"    {o['ms']:9.1f} ms  {o['op']:<28} {o['shape'][:34]:<34} {_source(o['source'])}"
            for o in result["ops"]]
  return "\n".join(lines)
