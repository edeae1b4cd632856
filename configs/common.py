"""Shared config pieces: the argument parser (the variant tables live in ferjax.models.variants).

A config file's `get_config(arg)` receives the text after ':' in `--config=configs/x.py:arg`, e.g.
`m6,fold=3`. `parse_arg` turns it into a ConfigDict of typed values; a bare word sets `variant`.
"""

import ml_collections


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
