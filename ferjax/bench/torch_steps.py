"""The same train and eval steps in PyTorch, on `third_party/torch_reference`: what ferjax is held
to.

A PyTorch train step does what ferjax's does for the case's config: the reference network (built
with the config's model options), the config's joint loss (softmax, island or DDA, with the same
weights), `torch.optim.SGD` with the same rate, momentum and weight decay, and the same centre
update. It gets float32 images, so ferjax's extra uint8 conversion and resampling count against
ferjax.

Settings: eager NCHW, eager channels_last, `torch.compile` (channels_last), each optionally under
bfloat16 autocast. On a GPU cuDNN autotuning is on. Memory is the CUDA allocator's peak; PyTorch
has no per-step peak on the CPU, so it is left empty there.
"""

import dataclasses
from typing import Any

import ml_collections
import torch
import torch.nn.functional as F

from ferjax.bench import cases, timing
from third_party import torch_reference
from third_party.torch_reference import losses


@dataclasses.dataclass(frozen=True)
class Setting:
  """How PyTorch runs the step."""

  channels_last: bool = True
  compile: bool = False
  autocast: bool = False

  @property
  def label(self) -> str:
    text = "compile" if self.compile else "eager"
    text += " channels_last" if self.channels_last else " NCHW"
    return text + (" bf16 autocast" if self.autocast else "")


def settings_for(dtype: str, names: list[str]) -> list[Setting]:
  """The settings named in `names` (eager, channels_last, compile, autocast) at the bench's dtype.

  At bfloat16 every setting runs under autocast; at float32 'autocast' adds eager channels_last
  under bfloat16 autocast, PyTorch's usual fast path on a CPU, reported beside the float32 ratio.
  """
  bf16 = dtype == "bfloat16"
  table = {
      "eager": Setting(channels_last=False, autocast=bf16), "channels_last": Setting(autocast=bf16),
      "compile": Setting(compile=True, autocast=bf16), "autocast": Setting(autocast=True)
  }
  unknown = [name for name in names if name not in table]
  if unknown:
    raise ValueError(f"unknown PyTorch setting(s) {unknown}; choose from {list(table)}")
  chosen = []
  for name in names:
    if table[name] not in chosen:
      chosen.append(table[name])
  return chosen


def device() -> torch.device:
  return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synchronize() -> None:
  if torch.cuda.is_available():
    torch.cuda.synchronize()


def _objective(loss: ml_collections.ConfigDict):
  """(logits, embeddings, labels, centers) -> (loss, centre delta or None), as
  ferjax.train.losses.OBJECTIVES."""
  def objective(logits, embeddings, labels, centers):
    if loss.name == "island":
      value, _ = losses.contextual_objective(logits, embeddings, labels, centers, loss.lam,
                                             loss.lambda1)
      return value, losses.island_delta(embeddings, labels, centers, loss.lambda1)
    if loss.name == "dda":
      value, _ = losses.multiscale_objective(logits, embeddings, labels, centers, loss.lam,
                                             loss.gamma)
      return value, losses.dda_delta(embeddings, labels, centers, loss.gamma)
    return losses.softmax_cross_entropy(logits, labels), None
  return objective


def _model(config: ml_collections.ConfigDict, setting: Setting) -> torch.nn.Module:
  model = torch_reference.get_model(config.model.name, in_channels=1,
                                    **config.model.options).to(device())
  if setting.channels_last:
    model = model.to(memory_format=torch.channels_last)
  return model


def _inputs(case: cases.Case, setting: Setting) -> tuple[torch.Tensor, torch.Tensor]:
  batch = cases.synthetic_batch(case)
  images = torch.from_numpy(batch["image"]).permute(0, 3, 1, 2).float().div(255.0).to(device())
  if setting.channels_last:
    images = images.contiguous(memory_format=torch.channels_last)
  return images, torch.from_numpy(batch["label"]).long().to(device())


def _row(case: cases.Case, what: str, setting: Setting, measured: timing.Timing,
         memory: int | None) -> dict:
  return dict(framework="pytorch",
              setting=setting.label, what=what, variant=case.variant, batch=case.batch,
              image_size=case.image_size, dtype="bfloat16" if setting.autocast else "float32",
              num_runs=1, width=case.width, step_ms=measured.step_s * 1e3,
              images_per_s=case.batch / measured.step_s,
              compile_s=measured.first_s if setting.compile else None, flops=None,
              memory_bytes=memory, steps=measured.steps)


def _timed(case: cases.Case, what: str, setting: Setting, step, steps_timed: int,
           warmup: int) -> dict:
  if torch.cuda.is_available():
    torch.cuda.reset_peak_memory_stats()
  measured = timing.time_steps(step, lambda _: synchronize(), steps_timed, warmup)
  memory = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
  return _row(case, what, setting, measured, memory)


def train_row(case: cases.Case, setting: Setting, steps_timed: int, warmup: int) -> dict:
  """Times one PyTorch training step (forward, joint loss, backward, SGD, centre update)."""
  torch.backends.cudnn.benchmark = True
  config = cases.config_of(case)
  model = _model(config, setting).train()
  forward = torch.compile(model) if setting.compile else model
  opt = config.optimizer
  optimizer = torch.optim.SGD(model.parameters(), lr=opt.learning_rate, momentum=opt.momentum,
                              weight_decay=opt.weight_decay, nesterov=opt.nesterov)
  objective = _objective(config.loss)
  images, labels = _inputs(case, setting)
  state: dict[str, Any] = {"centers": None}

  def step(_):
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device().type, torch.bfloat16, enabled=setting.autocast):
      logits, aux = forward(images)
    embeddings = aux["embedding"].float()
    if state["centers"] is None:
      state["centers"] = torch.zeros(config.model.options.num_classes, embeddings.shape[-1],
                                     device=device())
    loss, delta = objective(logits.float(), embeddings, labels, state["centers"])
    loss.backward()
    optimizer.step()
    if delta is not None:
      state["centers"] = losses.update_centers(state["centers"], delta, config.loss.center_rate)

  return _timed(case, "train", setting, step, steps_timed, warmup)


def eval_row(case: cases.Case, setting: Setting, steps_timed: int, warmup: int) -> dict:
  """Times one PyTorch evaluation step: the forward pass in eval mode and the softmax."""
  torch.backends.cudnn.benchmark = True
  model = _model(cases.config_of(case), setting).eval()
  forward = torch.compile(model) if setting.compile else model
  images, _ = _inputs(case, setting)

  @torch.inference_mode()
  def step(_):
    with torch.autocast(device().type, torch.bfloat16, enabled=setting.autocast):
      logits, _ = forward(images)
    return F.softmax(logits.float(), dim=-1)

  return _timed(case, "eval", setting, step, steps_timed, warmup)


# A peak product expected to take longer than this is measured at a quarter of the side instead.
_PEAK_SECONDS = 2.0


def _matmul_flops(dtype: str, n: int, steps: int, warmup: int) -> float:
  a = torch.ones(n, n, dtype=getattr(torch, dtype), device=device())
  measured = timing.time_steps(lambda _: a @ a, lambda _: synchronize(), steps, warmup=warmup)
  return 2 * n ** 3 / measured.step_s


def peak_flops(dtype: str, steps: int = 5) -> float:
  """FLOP/s of PyTorch's large square matrix product in `dtype` (the MFU peak's other candidate).

  A product at a quarter of the side comes first: where PyTorch has only a slow path for `dtype`
  (bfloat16 on a CPU without bfloat16 instructions: 54 s for one 2048^3 product on a 2-core AMD
  EPYC, against 0.19 s in float32), its rate there stands for the peak, which such a path never
  raises.
  """
  n = timing.matmul_size()
  probe = _matmul_flops(dtype, n // 4, steps=1, warmup=1)
  if 2 * n ** 3 / probe > _PEAK_SECONDS:
    return probe
  return _matmul_flops(dtype, n, steps, warmup=2)


def describe() -> str:
  return f"torch {torch.__version__} on {device().type}, {torch.get_num_threads()} threads"
