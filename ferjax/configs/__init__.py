"""The configs that ship with ferjax, and the one way every command loads a config.

A config spec is a file and an argument, 'path/to/file.py:arg', or a shipped config's name and an
argument, 'cka:m6,width=0.5'. Each file's `get_config(arg)` builds the ConfigDict (its docstring
gives the commands). In a source checkout `configs/` is this folder, so 'configs/cka.py' and 'cka'
name the same file; an installed ferjax answers to the names from any directory.
"""

import importlib.util
import pathlib

import ml_collections
from absl import flags
from ml_collections import config_flags

FOLDER = pathlib.Path(__file__).parent
# The experiment files; common.py, paper000.py and paper002.py are the pieces they are built from.
SHIPPED = ("cka", "fer2013", "ck_msa", "fer2013_msa", "fer2013_beyond")


def path_of(spec: str) -> tuple[pathlib.Path, str]:
  """The config file and the argument of `spec`; a FileNotFoundError names both kinds of spec."""
  name, _, arg = spec.partition(":")
  if name in SHIPPED:
    return FOLDER / f"{name}.py", arg
  if pathlib.Path(name).is_file():
    return pathlib.Path(name), arg
  raise FileNotFoundError(
      f"config {spec!r}: no file {name!r} and no shipped config of that name; give a file "
      f"('configs/cka.py:m6') or one of {', '.join(SHIPPED)} ('cka:m6')")


def load(spec: str, extra: str = "") -> ml_collections.ConfigDict:
  """`get_config(arg)` of the config that `spec` names, with the switches `extra`
  ('width=0.5,fold=3') after its own argument."""
  path, arg = path_of(spec)
  arg = ",".join(filter(None, [arg, extra]))
  module_spec = importlib.util.spec_from_file_location(f"ferjax_config_{path.stem}", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg)


class _Parser(flags.ArgumentParser):
  """Parses a `--config` value through `load` (so shipped names work), locked unless told not to."""

  def __init__(self, lock_config: bool):
    self._lock_config = lock_config

  def parse(self, spec: str) -> ml_collections.ConfigDict:
    try:
      config = load(spec)
    except FileNotFoundError as error:  # absl reports a ValueError as a bad value, in one line.
      raise ValueError(str(error)) from None
    if self._lock_config:
      config.lock()
    return config

  def flag_type(self) -> str:
    return "config object"


def define_flag(name: str, help_string: str, lock_config: bool = True,
                flag_values: flags.FlagValues = flags.FLAGS) -> flags.FlagHolder:
  """A `--name` flag holding the config of a spec, with ml_collections' `--name.key=value`
  overrides."""
  holder = config_flags.DEFINE_config_file(name, None, help_string, flag_values=flag_values,
                                           lock_config=lock_config)
  flag_values[name].parser = _Parser(lock_config)
  return holder
