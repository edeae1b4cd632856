"""The bench's table, its utilisation figures and its headline ratio."""

from collections.abc import Callable, Sequence

MIB = 2 ** 20


def add_utilisation(rows: list[dict], peak_flops: Callable[[str], float]) -> None:
  """Adds achieved TFLOP/s and MFU to rows that have a FLOP count, against `peak_flops(dtype)`."""
  peaks: dict[str, float] = {}
  for row in rows:
    if not row.get("flops"):
      row.update(tflops=None, mfu=None, peak_tflops=None)
      continue
    if row["dtype"] not in peaks:
      peaks[row["dtype"]] = peak_flops(row["dtype"])
    achieved = row["flops"] / (row["step_ms"] / 1e3)
    row.update(tflops=achieved / 1e12, mfu=achieved / peaks[row["dtype"]],
               peak_tflops=peaks[row["dtype"]] / 1e12)


def _cell(value, fmt: str) -> str:
  return "-" if value is None else format(value, fmt)


def format_rows(rows: Sequence[dict], device: str) -> str:
  """A plain-text table of every row, with the device and settings in its title."""
  first = rows[0]
  side = max(6, *(len(r["variant"]) + 1 for r in rows))  # A --config case is named by its spec.
  lines = [
      f"{device}: batch {first['batch']}, {first['image_size']} px, width {first['width']}, "
      f"median of {first['steps']} steps",
      f"{'what':<6}{'model':<{side}}{'framework':<9} {'setting':<38}{'dtype':<9}{'runs':>4}"
      f"{'img/s':>9}"
      f"{'step ms':>9}{'compile s':>10}{'MiB':>7}{'TFLOP/s':>8}{'MFU':>7}"
  ]
  for r in rows:
    memory = None if r["memory_bytes"] is None else r["memory_bytes"] / MIB
    lines.append(
        f"{r['what']:<6}{r['variant']:<{side}}{r['framework']:<9} {r['setting']:<38}{r['dtype']:<9}"
        f"{r['num_runs']:>4}{r['images_per_s']:>9,.0f}{r['step_ms']:>9.1f}"
        f"{_cell(r['compile_s'], '.1f'):>10}{_cell(memory, ',.0f'):>7}"
        f"{_cell(r.get('tflops'), '.2f'):>8}{_cell(r.get('mfu'), '.1%'):>7}")
  return "\n".join(lines)


def headline(rows: Sequence[dict], variant: str, num_runs: int) -> str:
  """The N-runs-in-one-program line (if any) and, last, ferjax/PyTorch for the headline case's train
  step."""
  train = [r for r in rows if r["what"] == "train" and r["variant"] == variant]
  if not train:
    train = [r for r in rows if r["variant"] == variant]
  ours = next(r for r in train
              if r["framework"] == "ferjax" and r["setting"] == "jit" and r["num_runs"] == 1)
  lines = []
  together = [r for r in train if r["framework"] == "ferjax" and r["num_runs"] == num_runs > 1]
  if together:
    lines.append(
        f"{num_runs} runs in one program: {together[0]['images_per_s']:,.0f} img/s against "
        f"{ours['images_per_s']:,.0f} img/s run one after another: "
        f"{together[0]['images_per_s'] / ours['images_per_s']:.2f}x")
  theirs = [r for r in train if r["framework"] == "pytorch" and r["dtype"] == ours["dtype"]]
  if not theirs:
    lines.append(
        f"headline: {variant} {ours['what']}: no PyTorch row at {ours['dtype']} to compare with")
    return "\n".join(lines)
  best = max(theirs, key=lambda r: r["images_per_s"])
  lines.append(
      f"headline: {variant} {ours['what']}, batch {ours['batch']}, {ours['image_size']} px, "
      f"{ours['dtype']}: ferjax {ours['images_per_s']:,.0f} img/s, PyTorch ({best['setting']}) "
      f"{best['images_per_s']:,.0f} img/s: ferjax/PyTorch = "
      f"{ours['images_per_s'] / best['images_per_s']:.2f}x")
  return "\n".join(lines)
