"""ferjax/configs: each paper's TRAINING holds its settings, the built configs hold them and their
file's epochs, configs load by path or shipped name, and bad arguments raise a ValueError naming
them."""

import jax.numpy as jnp
import numpy as np
import pytest

from ferjax import configs
from ferjax.configs import ck_msa, cka, fer2013, fer2013_beyond, fer2013_msa, paper000, paper002
from ferjax import mesh as mesh_lib
from ferjax.data import augment
from ferjax.train import hyper, steps
from ferjax.train import state as state_lib

PAPER_000_FILES = (cka, fer2013)
PAPER_002_FILES = (ck_msa, fer2013_msa)
FILES = PAPER_000_FILES + PAPER_002_FILES
PAPER = {module: paper000 for module in PAPER_000_FILES} | {module: paper002 for module in
                                                           PAPER_002_FILES}


@pytest.mark.parametrize("paper", (paper000, paper002), ids=lambda m: m.__name__)
def test_shared_settings_are_paper_002s_sgd_and_the_15_view_expansion(paper):
  training = paper.TRAINING
  assert training.batch_size == 32
  assert training.optimizer == dict(learning_rate=0.01, momentum=0.9, nesterov=False,
                                    weight_decay=5e-4)
  assert training.augmentation["views"] == "expanded"
  assert training.augmentation["mirrors"] == augment.PAPER_MIRRORS
  assert len(training.augmentation["mirrors"]) * len(augment.PAPER_ANGLES) == 15
  assert training.augmentation["rotation"] == "discrete"
  assert training.augmentation["max_degrees"] == max(augment.PAPER_ANGLES) == 10.0


@pytest.mark.parametrize("module", PAPER_000_FILES, ids=lambda m: m.__name__)
def test_paper_000_halves_on_plateau_and_trains_m6_with_the_island_loss(module):
  training = paper000.TRAINING
  assert training.schedule["name"] == "plateau"
  assert (training.schedule["factor"], training.schedule["patience"]) == (0.5, 3)
  assert training.loss == dict(name="island", lam=0.005, lambda1=7.0, gamma=0.0, center_rate=0.5)
  for row in ("m1", "m2", "m3", "m4", "m5", "m6"):
    config = module.get_config(row)
    assert config.model.name == "contextual" and config.model.options.dropout == 0.001
    assert config.loss.to_dict() == dict(training.loss,
                                          name="island" if row == "m6" else "softmax")
  assert module.get_config("").to_dict() == module.get_config("m6").to_dict()


@pytest.mark.parametrize("module", PAPER_002_FILES, ids=lambda m: m.__name__)
def test_paper_002_decays_exponentially_and_trains_with_dda(module):
  training = paper002.TRAINING
  assert (training.schedule["name"], training.schedule["decay"]) == ("exponential", 0.9)
  assert training.loss == dict(name="dda", lam=0.01, lambda1=0.0, gamma=0.125, center_rate=0.5)
  for variant in ("M", "MCA", "MSA", "MCSA"):
    config = module.get_config(variant)
    assert config.model.name == "multiscale" and config.model.options.dropout == 0.0
    assert config.loss.to_dict() == training.loss
  assert module.get_config("").to_dict() == module.get_config("MCSA").to_dict()


@pytest.mark.parametrize("module", FILES, ids=lambda m: m.__name__)
def test_built_configs_hold_the_papers_settings_and_the_files_epochs(module):
  training = PAPER[module].TRAINING
  for arg, views in (("", "expanded"), ("views=random", "random")):
    config = module.get_config(arg)
    assert config.batch_size == training.batch_size
    assert config.optimizer.to_dict() == training.optimizer
    assert config.schedule.to_dict() == training.schedule
    assert config.num_epochs == module.EPOCHS[views]
    assert config.input.to_dict().items() >= dict(training.augmentation, views=views).items()
  assert module.get_config("schedule=constant").schedule.name == "constant"
  assert module.get_config("epochs=3").num_epochs == 3


def test_configs_load_by_path_or_shipped_name_and_a_bad_spec_names_both(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # Shipped names do not depend on the working directory.
  assert configs.load("cka:m3,width=0.5").to_dict() == cka.get_config("m3,width=0.5").to_dict()
  assert configs.load(f"{configs.FOLDER}/fer2013_msa.py:MCA").to_dict() == (
      fer2013_msa.get_config("MCA").to_dict())
  assert (configs.load("ck_msa").dataset, configs.load("fer2013").dataset) == ("ckplus/6class",
                                                                               "fer2013")
  with pytest.raises(FileNotFoundError, match="'nope.py'.*one of cka, fer2013, ck_msa"):
    configs.load("nope.py:m6")


BAD_ARGS = [
    (cka, "bogus=1", "unknown config argument 'bogus'"),
    (fer2013_msa, "m6,depth=3", "unknown config argument 'depth'"),
    (cka, "m9", "unknown Table 1 row 'm9'"), (fer2013, "MCSA", "unknown Table 1 row 'MCSA'"),
    (ck_msa, "XYZ", "unknown paper 002 variant 'XYZ'"),
    (cka, "align_corners=true,m1", "align_corners=true .* m1 has none \\(use m4, m5 or m6\\)"),
    (fer2013, "fc_head=true", "fc_head=true .*; use m1, not m6"),
    (ck_msa, "align_corners=true", "unknown config argument 'align_corners'"),
    (fer2013_msa, "fc_head=true", "unknown config argument 'fc_head'"),
    (cka, "sweep=gamma_sweep", "sweep 'gamma_sweep' belongs to paper002's configs"),
    (ck_msa, "lambda_sweep", "sweep 'lambda_sweep' belongs to paper000's configs"),
    (fer2013, "m2,sweep=lambda1_sweep", "sweep 'lambda1_sweep' varies loss weights"),
    (fer2013, "sweep=nope", "unknown sweep 'nope'"),
]


@pytest.mark.parametrize("module, arg, message", BAD_ARGS,
                         ids=[f"{m.__name__}:{a}" for m, a, _ in BAD_ARGS])
def test_bad_arguments_raise_a_value_error_naming_them(module, arg, message):
  with pytest.raises(ValueError, match=message):
    module.get_config(arg)


def test_paper_literal_switches_reach_the_model_options():
  assert cka.get_config("m5,align_corners").model.options.align_corners is True
  assert fer2013.get_config("m1,fc_head=true").model.options.classifier == "vgg_fc"
  assert fer2013.get_config("m1").model.options.classifier == "gap"
  assert set(paper000.NETWORK.switches) == {"align_corners", "fc_head", "head"}
  assert not paper002.NETWORK.switches


def test_the_beyond_config_trains_m1_with_its_own_settings_and_a_cosine_over_its_epochs():
  config = configs.load("fer2013_beyond")
  assert config.model.options.to_dict().items() >= {"width": 0.25, "fusion": False, "pd": False,
                                                     "gcca": False, "ra": False}.items()
  assert config.loss.name == "smoothed_softmax" and config.dataset == "fer2013"
  assert hyper.resolve(config).learning_rates.tolist() == [np.float32(0.02)]  # Sections complete.
  assert config.schedule.name == "cosine" and config.num_epochs == 40
  assert config.input.mirrors == ("none", "horizontal") and config.input.erase_prob == 0.25
  assert config.input.tta_report and not config.input.tta
  assert fer2013_beyond.get_config("width=0.5").model.options.width == 0.5


def test_a_cosine_schedule_anneals_to_zero_over_the_runs_own_epochs():
  """Any config can anneal (schedule=cosine); the horizon is the config's num_epochs as it stands,
  an override included, not a copy taken when the config was built."""
  config = fer2013.get_config("m1,schedule=cosine,epochs=7")
  config.num_epochs = 3  # As --config.num_epochs=3 sets it.
  runs = hyper.resolve(config)
  end_epoch = steps.make_end_epoch_step(config, mesh_lib.make_mesh(), runs)
  state = state_lib.RunState(params={}, batch_stats={}, opt_state=(), centers=jnp.zeros((1, 1, 1)),
                             learning_rate=jnp.full((1,), 0.01), best_loss=jnp.full((1,), jnp.inf),
                             bad_epochs=jnp.zeros((1,), jnp.int32))
  rates = []
  for epoch in range(3):
    state = end_epoch(state, jnp.ones((1,)), jnp.int32(epoch))
    rates.append(float(state.learning_rate[0]))
  np.testing.assert_allclose(rates, [0.0075, 0.0025, 0.0], atol=1e-9)
