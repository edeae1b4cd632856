"""ImageNet VGG16 convolutions (`ferjax.models.pretrained`) from files of torchvision's and Keras'
exact layouts, written here with random weights (nothing is downloaded): the 13 convs land in the
backbone transposed and with the first one summed to grey, the rest of the network keeps its
initialisation, and a missing or mis-shaped key is an error naming the file and the key."""

import h5py  # The test extra installs it, and torch is installed beside it: these tests never skip.
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from ferjax.configs import cka, ck_msa
from ferjax import mesh as mesh_lib
from ferjax.models import get_model, pretrained
from ferjax.train import hyper
from ferjax.train import state as state_lib


@pytest.fixture(scope="module")
def convs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """Random ImageNet-shaped VGG16 convs: (3, 3, in, out) kernels (three input channels) and
  biases."""
  rng = np.random.default_rng(0)
  return {
      name: (rng.normal(0, 0.05, kernel).astype(np.float32),
             rng.normal(0, 0.05, bias).astype(np.float32))
      for name, (kernel, bias) in pretrained.SHAPES.items()
  }


def torchvision_file(path, convs, drop=None, reshape=None):
  """torchvision's vgg16 state_dict layout: features.N.{weight (out, in, 3, 3), bias},
  classifier.*."""
  state = {}
  for name, index in zip(pretrained.CONV_NAMES, pretrained.TORCHVISION_INDICES, strict=True):
    kernel, bias = convs[name]
    state[f"features.{index}.weight"] = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
    state[f"features.{index}.bias"] = torch.from_numpy(bias)
  state["classifier.0.weight"] = torch.zeros(8, 16)  # Stands for the FC head, which is not loaded.
  if drop:
    del state[drop]
  if reshape:
    state[reshape] = state[reshape][:, :1]
  torch.save(state, path)
  return path


def keras_file(path, convs):
  """vgg16_weights_tf_dim_ordering_tf_kernels.h5: a group per layer listing its weights' names."""
  with h5py.File(path, "w") as handle:
    handle.attrs["layer_names"] = [b"input_1", *(n.encode() for n in pretrained.CONV_NAMES), b"fc1"]
    for name in pretrained.CONV_NAMES:
      group = handle.create_group(name)
      group.attrs["weight_names"] = [f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()]
      group[f"{name}_W_1:0"], group[f"{name}_b_1:0"] = convs[name]
    handle.create_group("fc1").attrs["weight_names"] = []
  return path


@pytest.mark.parametrize("layout", ["torchvision", "keras"])
def test_both_layouts_give_the_convs_transposed_and_the_first_summed_to_grey(
    layout, convs, tmp_path):
  write = {
      "torchvision": lambda: torchvision_file(tmp_path / "vgg16-397923af.pth", convs),
      "keras": lambda: keras_file(tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels.h5", convs)
  }[layout]
  loaded = pretrained.read_vgg16(write())
  assert list(loaded) == list(pretrained.CONV_NAMES)
  np.testing.assert_allclose(loaded["block1_conv1"][0],
                             convs["block1_conv1"][0].sum(axis=2, keepdims=True),
                             rtol=1e-6)
  for name in ("block1_conv2", "block3_conv3", "block5_conv3"):
    np.testing.assert_array_equal(loaded[name][0], convs[name][0])
    np.testing.assert_array_equal(loaded[name][1], convs[name][1])


def test_a_missing_or_misshaped_key_names_the_file_and_the_key(convs, tmp_path):
  path = torchvision_file(tmp_path / "no10.pth", convs, drop="features.10.weight")
  with pytest.raises(pretrained.PretrainedError,
                     match=r"no10.pth: no key features.10.weight \(torchvision's VGG16 "
                     r"conv block3_conv1\)"):
    pretrained.read_vgg16(path)
  path = torchvision_file(tmp_path / "thin.pth", convs, reshape="features.2.weight")
  with pytest.raises(pretrained.PretrainedError,
                     match=r"thin.pth: features.2.weight has shape \(64, 1, 3, 3\); "
                     r"VGG16 has \(64, 64, 3, 3\)"):
    pretrained.read_vgg16(path)
  with pytest.raises(pretrained.PretrainedError, match="unknown VGG16 file type '.npz'"):
    (tmp_path / "vgg.npz").write_bytes(b"")
    pretrained.read_vgg16(tmp_path / "vgg.npz")
  with h5py.File(tmp_path / "partial.h5", "w") as handle:
    handle.create_group("block1_conv1")
  with pytest.raises(pretrained.PretrainedError,
                     match="partial.h5: layer block1_conv1 lists weights"):
    pretrained.read_vgg16(tmp_path / "partial.h5")


def test_the_config_switch_starts_every_run_from_the_file_and_keeps_the_head(convs, tmp_path):
  path = keras_file(tmp_path / "vgg16.h5", convs)
  config = cka.get_config(f"m1,runs=2,pretrained={path}")
  plain = cka.get_config("m1,runs=2")
  mesh = mesh_lib.make_mesh()
  runs = state_lib.initial_state(config, mesh, 6, hyper.resolve(config)).state.runs
  reference = state_lib.initial_state(plain, mesh, 6, hyper.resolve(plain)).state.runs
  backbone = runs.params["backbone"]
  for run in range(2):
    np.testing.assert_array_equal(backbone["block4_conv2"]["conv"]["kernel"][run],
                                  convs["block4_conv2"][0])
    np.testing.assert_allclose(backbone["block1_conv1"]["conv"]["kernel"][run],
                               convs["block1_conv1"][0].sum(axis=2, keepdims=True), rtol=1e-6)
  head = {k: v for k, v in runs.params.items() if k != "backbone"}
  assert head and jax.tree.all(
      jax.tree.map(np.array_equal, head, {k: reference.params[k] for k in head}))
  with pytest.raises(pretrained.PretrainedError, match="need width=1"):
    narrow = cka.get_config(f"m1,width=0.25,pretrained={path}")
    state_lib.initial_state(narrow, mesh, 6, hyper.resolve(narrow))


def test_multiscale_layers_keep_their_initialisation(convs):
  model = get_model("multiscale", **ck_msa.get_config("MCSA").model.options)
  shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 48, 48, 1)))["params"]
  params = jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), shapes)  # No compiling.
  grey = {name: (kernel.sum(axis=2, keepdims=True) if name == "block1_conv1" else kernel, bias)
          for name, (kernel, bias) in convs.items()}
  loaded = pretrained.load_into(params, grey)
  # Multiscale branches.
  assert loaded["backbone"]["block1_conv1"] is params["backbone"]["block1_conv1"]
  np.testing.assert_array_equal(loaded["backbone"]["block2_conv2"]["conv"]["kernel"],
                                convs["block2_conv2"][0])
