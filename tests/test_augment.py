"""On-device augmentation: the affine warp against exact references, the random pipeline's
contracts."""

import functools
import json

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from ferjax.data import augment

SIDE = 48


def smooth_image(side: int = SIDE) -> np.ndarray:
  """An off-centre gaussian blob (sigma 8, peak 0.8) plus a one-period cosine, (side, side, 1)
  float32."""
  yy, xx = np.mgrid[0:side, 0:side] + 0.5
  blob = 0.8 * np.exp(-((xx - 0.42 * side) ** 2 + (yy - 0.56 * side) ** 2) / (2 * 8.0 ** 2))
  return (blob + 0.1 * np.cos(2 * np.pi * xx / side) + 0.1).astype(np.float32)[..., None]


def uint8_batch(batch: int = 4, side: int = SIDE) -> np.ndarray:
  """The smooth image, asymmetric enough that every flip and rotation changes it, as a uint8
  batch."""
  return np.repeat(np.round(smooth_image(side) * 255).astype(np.uint8)[None], batch, axis=0)


# Jitted once per shape and configuration: op-by-op dispatch would compile every primitive
# separately.
augment_settings = jax.jit(augment.augment_batch, static_argnames="settings")


def augment_batch(key, images, **settings):
  return augment_settings(key, images, settings=augment.Settings(**settings))


FULL = augment.Settings(flip=True, rotation="uniform", max_degrees=15.0, crop_scale=(0.6, 1.0),
                        erase_prob=0.5, size=64)
augment_full = jax.jit(functools.partial(augment.augment_batch, settings=FULL))
hflip = jax.jit(augment.hflip)
rotate = jax.jit(augment.rotate)
resize = jax.jit(augment.resize, static_argnums=1)
tta_views = jax.jit(augment.tta_views, static_argnames=("size", "crop_fraction", "mean", "std"))
preprocess_eval = jax.jit(augment.preprocess_eval, static_argnames=("size", "mean", "std"))


def test_to_float_maps_uint8_to_unit_interval():
  pixels = np.array([[[[0], [128], [255]]]], np.uint8)
  out = augment.to_float(pixels)
  assert out.dtype == jnp.float32
  np.testing.assert_allclose(out[0, 0, :, 0], [0.0, 128 / 255, 1.0], rtol=1e-7)


def test_normalize_is_per_channel_standardisation():
  images = np.random.default_rng(0).random((2, 4, 4, 3)).astype(np.float32)
  mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
  expected = (images - np.array(mean)) / np.array(std)
  np.testing.assert_allclose(augment.normalize(images, mean, std), expected, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(augment.normalize(images, 0.5, 2.0), (images - 0.5) / 2.0, rtol=1e-6)
  np.testing.assert_array_equal(augment.normalize(images), images)


def test_hflip_mirrors_exactly_and_twice_is_identity():
  image = np.random.default_rng(1).random((16, 16, 2)).astype(np.float32)
  flipped = hflip(image)
  np.testing.assert_array_equal(flipped, image[:, ::-1])
  np.testing.assert_array_equal(hflip(flipped), image)


def test_rotate_by_zero_is_identity():
  image = np.random.default_rng(2).random((16, 16, 1)).astype(np.float32)
  np.testing.assert_allclose(rotate(image, 0.0), image, atol=1e-5)


def test_rotate_90_is_counter_clockwise_like_rot90():
  # Positive angles turn the content counter-clockwise as displayed: np.rot90(k=1) on (rows, cols).
  image = np.random.default_rng(3).random((16, 16, 1)).astype(np.float32)
  np.testing.assert_allclose(rotate(image, 90.0), np.rot90(image, 1, axes=(0, 1)), atol=1e-5)
  np.testing.assert_allclose(rotate(image, -90.0), np.rot90(image, -1, axes=(0, 1)), atol=1e-5)


@pytest.mark.parametrize("degrees", [5.0, 10.0, 30.0])
def test_rotate_there_and_back_restores_the_valid_disc(degrees):
  # Two bilinear resamplings of a smooth image: each errs by at most ~(1/8) * max|f''| per axis
  # (0.8 / 8^2 / 8 ~ 0.0016 for the blob), so about 0.006 for both warps (measured: 0.0056 max);
  # 0.01 leaves headroom yet fails for a matrix that is not a pure rotation (one sign wrong: errors
  # of 0.1 or more) or mis-weighted interpolation taps.
  image = smooth_image()
  back = rotate(rotate(image, degrees), -degrees)
  yy, xx = np.mgrid[0:SIDE, 0:SIDE] + 0.5
  disc = np.hypot(xx - SIDE / 2, yy - SIDE / 2) < SIDE / 2 - 3  # never sampled outside the image
  np.testing.assert_allclose(np.asarray(back)[disc], image[disc], atol=0.01)


def test_rotate_fills_corners_and_keeps_the_centre():
  image = np.ones((16, 16, 1), np.float32)
  out = np.asarray(rotate(image, 45.0, fill=0.25))
  np.testing.assert_allclose(out[[0, 0, -1, -1], [0, -1, 0, -1], 0], 0.25)
  np.testing.assert_allclose(out[4:12, 4:12], 1.0, atol=1e-6)


def test_resize_by_warp_matches_jax_image_resize_when_upsampling():
  images = np.random.default_rng(4).random((2, SIDE, SIDE, 1)).astype(np.float32)
  expected = jax.image.resize(images, (2, 224, 224, 1), "bilinear")
  out = resize(images, 224)
  assert out.shape == (2, 224, 224, 1)
  np.testing.assert_allclose(out, expected, atol=1e-5)


def test_augment_batch_shape_range_and_determinism():
  images = uint8_batch(batch=6)
  key = jax.random.key(0)
  out = augment_full(key, images)
  assert out.shape == (6, 64, 64, 1) and out.dtype == jnp.float32
  out = np.asarray(out)
  assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0
  np.testing.assert_array_equal(augment_full(key, images), out)
  assert not np.allclose(augment_full(jax.random.key(1), images), out)
  # Identical inputs, different per-example keys: every pair of examples differs.
  flat = out.reshape(6, -1)
  distances = np.abs(flat[:, None] - flat[None]).max(axis=-1)
  assert np.all(distances[~np.eye(6, dtype=bool)] > 0.05)


def test_augment_batch_without_ops_is_to_float_and_normalize():
  images = uint8_batch(batch=2)
  out = augment_batch(jax.random.PRNGKey(0),
                      images, flip=False, rotation="none", mean=0.5, std=0.25)
  np.testing.assert_array_equal(out, (augment.to_float(images) - 0.5) / 0.25)


def test_crop_scale_zooms_into_the_image():
  # A horizontal ramp of 5 grey levels per pixel; a crop of a quarter of the area (half the side)
  # rescaled to full size halves the slope, and lying inside the image it never shows the fill.
  ramp = np.broadcast_to((np.arange(SIDE) * 5).astype(np.uint8)[None, :, None], (SIDE, SIDE, 1))
  images = np.repeat(ramp[None], 4, axis=0)
  out = np.asarray(augment_batch(jax.random.key(6), images, flip=False, rotation="none",
                                         crop_scale=(0.25, 0.25)))
  slopes = np.diff(out[:, :, 2:-2, 0], axis=-1) * 255
  np.testing.assert_allclose(slopes, 2.5, atol=1e-3)
  assert out.min() >= 0.0 and out.max() <= 235 / 255 + 1e-6
  assert len({float(v) for v in out[:, 0, 0, 0]}) > 1  # crops are placed at different positions


def test_discrete_rotation_only_uses_the_paper_angles():
  images = uint8_batch(batch=8)
  out = np.asarray(augment_batch(jax.random.key(7), images, rotation="discrete"))
  image = augment.to_float(images[0])
  candidates = {}
  for angle in augment.PAPER_ANGLES:
    rotated = rotate(image, angle)
    candidates[(angle, False)] = np.asarray(rotated)
    candidates[(angle, True)] = np.asarray(hflip(rotated))
  drawn = []
  for example in out:
    errors = {name: np.abs(example - view).max() for name, view in candidates.items()}
    best = min(errors, key=errors.get)
    assert errors[best] < 1e-5, errors
    drawn.append(best)
  assert len({angle for angle, _ in drawn}) >= 2 and len({mirror for _, mirror in drawn}) == 2


def test_expansion_views_are_the_fifteen_fixed_rotations_and_mirrors():
  images = uint8_batch(batch=15)
  out = np.asarray(jax.jit(lambda i, v: augment.augment_batch(jax.random.key(3), i, views=v))(
      images, jnp.arange(15)))
  image = augment.to_float(images[0])
  mirrors = {"none": lambda x: x, "horizontal": lambda x: x[:, ::-1], "vertical": lambda x: x[::-1]}
  for view, (mirror, angle) in enumerate(
      (m, a) for m in augment.PAPER_MIRRORS for a in augment.PAPER_ANGLES):
    expected = mirrors[mirror](np.asarray(rotate(image, angle)))
    np.testing.assert_allclose(out[view],
                               expected,
                               atol=2e-5,
                               err_msg=f"view {view}: {mirror}, {angle}")
  # no mirror, 0 degrees: the image itself.
  np.testing.assert_array_equal(out[2], np.asarray(image))
  # Fixed views ignore the random draws: another key gives the same images.
  again = augment.augment_batch(jax.random.key(4), images[:3], views=jnp.array([0, 7, 14]))
  np.testing.assert_allclose(np.asarray(again), out[[0, 7, 14]], atol=1e-5)
  with pytest.raises(ValueError, match="mirror states.*'diagonal'"):
    augment.expansion_views(("none", "diagonal"))


def test_unknown_rotation_name_is_rejected():
  with pytest.raises(ValueError, match="'spin'.*uniform.*discrete.*none"):
    augment.Settings(rotation="spin")


def test_random_erasing_erases_one_rectangle_in_range_or_nothing():
  image = smooth_image() + 0.05  # nowhere zero, so the erased pixels are exactly the zeros
  keys = jax.random.split(jax.random.key(8), 8)
  erase = jax.jit(jax.vmap(lambda k, p: augment.random_erasing(k, image, p), in_axes=(0, None)))
  np.testing.assert_array_equal(erase(keys, 0.0), np.broadcast_to(image, (8,) + image.shape))
  boxes = set()
  for out in np.asarray(erase(keys, 1.0)):
    rows, cols = np.nonzero(out[..., 0] == 0)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    box = np.zeros(image.shape[:2], bool)
    box[top:bottom, left:right] = True
    np.testing.assert_array_equal(out[..., 0] == 0, box)  # exactly one full rectangle
    np.testing.assert_array_equal(out[~box], image[~box])
    height, width = bottom - top, right - left
    # Sides are rounded to whole pixels: a side of >= 3.7 px moves by <= 0.5 px, area by < 20%.
    assert 0.02 * 0.8 <= height * width / SIDE ** 2 <= 0.2 * 1.1
    assert 0.3 * 0.8 <= height / width <= 3.3 * 1.2
    boxes.add((top, left, height, width))
  assert len(boxes) == 8


def test_test_time_views_are_named_and_consistent_with_eval():
  images = uint8_batch(batch=2)
  views = tta_views(images, size=56, mean=0.5, std=0.25)
  assert views.shape == (12, 2, 56, 56, 1) and len(augment.TTA_VIEW_NAMES) == 12
  evaluated = preprocess_eval(images, size=56, mean=0.5, std=0.25)
  np.testing.assert_allclose(views[0], evaluated, atol=1e-6)
  np.testing.assert_allclose(views[1], np.asarray(evaluated)[:, :, ::-1], atol=1e-6)


def test_test_time_crops_are_the_corners_and_centre():
  # Half-side crops shown at half size are plain slices of the image, flipped ones mirrored slices.
  images = np.random.default_rng(9).integers(0, 256, (1, 16, 16, 1), np.uint8)
  views = np.asarray(tta_views(images, size=8, crop_fraction=0.5))
  x = np.asarray(augment.to_float(images))
  slices = {"top_left": x[:, :8, :8], "top_right": x[:, :8, 8:], "bottom_left": x[:, 8:, :8],
            "bottom_right": x[:, 8:, 8:], "center": x[:, 4:12, 4:12]}
  for name, expected in slices.items():
    np.testing.assert_allclose(views[augment.TTA_VIEW_NAMES.index(name)], expected, atol=1e-6)
    np.testing.assert_allclose(views[augment.TTA_VIEW_NAMES.index(name + "_hflip")],
                               expected[:, :, ::-1],
                               atol=1e-6)


def test_settings_are_built_once_from_a_config_and_survive_its_json():
  from ferjax.configs import cka
  config = cka.get_config("views=random,size=64")
  settings = augment.Settings.from_config(config.input)
  reloaded = ml_collections.ConfigDict(json.loads(config.to_json()))  # As config.json holds it.
  assert augment.Settings.from_config(reloaded.input) == settings
  assert hash(settings) == hash(augment.Settings.from_config(reloaded.input))
  assert (settings.rotation, settings.size, settings.crop_scale) == ("discrete", 64, None)
  assert settings.mirrors == augment.PAPER_MIRRORS and settings.mean == config.input.mean
