"""Shared config pieces: the argument parser and the papers' model variants.

A config file's `get_config(arg)` receives the text after ':' in `--config=configs/x.py:arg`, e.g.
`m6,fold=3`. `parse_arg` turns it into a ConfigDict of typed values; a bare word sets `variant`.
"""

import ml_collections

# Paper 000, Table 1: rows m1..m6 as flags of the contextual network (+ the joint loss for m6).
CONTEXTUAL_VARIANTS = {
    "m1": dict(fusion=False, gcca=False, pd=False, ra=False),
    "m2": dict(fusion=True, gcca=False, pd=False, ra=False),
    "m3": dict(fusion=True, gcca=True, pd=False, ra=False),
    "m4": dict(fusion=True, gcca=True, pd=True, ra=False),
    "m5": dict(fusion=True, gcca=True, pd=True, ra=True),
    "m6": dict(fusion=True, gcca=True, pd=True, ra=True),
}
CONTEXTUAL_LOSS = {name: "softmax" for name in CONTEXTUAL_VARIANTS} | {"m6": "island"}

# Paper 002, section 3.2: M-, MCA-, MSA-, MCSA-VGGNet.
MULTISCALE_VARIANTS = {
    "M": dict(channel_attention=False, spatial_attention=False),
    "MCA": dict(channel_attention=True, spatial_attention=False),
    "MSA": dict(channel_attention=False, spatial_attention=True),
    "MCSA": dict(channel_attention=True, spatial_attention=True),
}


def _typed(text: str):
  """'3' -> 3, '0.5' -> 0.5, 'true' -> True, anything else stays a string."""
  lowered = text.lower()
  if lowered in ("true", "false"):
    return lowered == "true"
  for cast in (int, float):
    try:
      return cast(text)
    except ValueError:
      pass
  return text


def parse_arg(arg: str, **defaults) -> ml_collections.ConfigDict:
  """Parses 'word,key=value,...' over `defaults`; a bare word sets 'variant'; unknown keys raise."""
  parsed = ml_collections.ConfigDict(defaults)
  for item in filter(None, (part.strip() for part in (arg or "").split(","))):
    key, sep, value = item.partition("=")
    if not sep:
      key, value = "variant", item
    if key not in defaults:
      raise ValueError(f"unknown config argument {key!r} in {arg!r}; allowed: {sorted(defaults)}")
    parsed[key] = _typed(value)
  return parsed


def choose(table: dict, name: str, what: str) -> dict:
  """table[name], or a ValueError listing the known names."""
  if name not in table:
    raise ValueError(f"unknown {what} {name!r}; choose one of {list(table)}")
  return table[name]
