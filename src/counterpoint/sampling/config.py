"""How to sample: :class:`SamplerConfig` (method, Gibbs passes, schedule, temperature, the
parallel-avoiding rule, arithmetic) and the callback a sampler reports progress to."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import InitVar, dataclass

import torch

from counterpoint.errors import ConfigError
from counterpoint.model.network import Coconet
from counterpoint.runtime.backend import PRECISIONS, resolve_precision

METHODS = ("gibbs", "independent", "ancestral", "confidence")


# callback(iteration, pianoroll (B,4,T,P), rewritten (B,4,T) bool: notes changed this pass) ->
# anything, or a (B,) bool tensor of the rows still wanted: the Gibbs and confidence samplers
# stop writing the others (a server's abandoned requests), which keep their last pass; the rest
# come out as they would have
Callback = Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor | None]


@dataclass
class SamplerConfig:
    method: str = "gibbs"
    # Gibbs passes N (default: GIBBS_PASSES_PER_NOTE x notes to write) or decoding passes
    passes: int | None = None
    p_min: float = 0.1
    p_max: float = 0.9
    alpha: float = 0.7
    temperature: float = 0.99
    # steer every draw away from pitches that would make parallel fifths or octaves with the
    # notes around it (the model alone writes them several times as often as Bach did)
    avoid_parallels: bool = True
    order: str = "random"  # ancestral: "random" or "chronological"
    # network arithmetic: "auto" (int8 where the model has an int8 file made from its weights,
    # else bfloat16 where the CPU has native bf16, else float32), "float32", "bfloat16" or
    # "int8"; bf16 samples about 1.65x as fast as float32 (sample_speed.py) and int8 about 1.9x
    # on AVX2 (passes 2.5x: int8_speed.py), 3.1x on AVX-512 with bf16, where int8 is also 1.8x
    # as fast as bf16 (session 27), at the same quality (gibbs_steps.py)
    precision: str = "auto"
    # gibbs: start from this many confidence passes instead of one independent draw of every
    # note (0: the paper's start); pair with a lower p_max, e.g. 8 init passes, 24 passes, p_max 0.5
    init_passes: int = 0
    # the old name of ``passes`` (a step is a 16th note elsewhere): still accepted, with a warning
    steps: InitVar[int | None] = None

    def __post_init__(self, steps: int | None = None) -> None:
        if steps is not None:
            warnings.warn("SamplerConfig(steps=) is deprecated: use passes", DeprecationWarning, stacklevel=3)
            if self.passes is not None and self.passes != steps:
                raise ConfigError("passes and its old name steps were both given, with different values")
            self.passes = steps
        if self.method not in METHODS:
            raise ConfigError(f"unknown sampler {self.method!r}: expected one of {', '.join(METHODS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"unknown precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}"
            )
        if self.order not in ("random", "chronological"):
            raise ConfigError(f"unknown order {self.order!r}: expected random or chronological")
        if self.temperature < 0:
            raise ConfigError("temperature must be >= 0")
        if self.passes is not None and self.passes < 0:
            raise ConfigError("passes must be >= 0")
        if self.init_passes < 0:
            raise ConfigError("init_passes must be >= 0")

    def resolve_precision(self, model: Coconet) -> str:
        """The arithmetic ``model`` runs in under this config on this machine: "bfloat16",
        "int8" or "float32"."""
        return resolve_precision(model, self.precision)
