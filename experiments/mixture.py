"""Ensembles of networks, for the benchmarks that ask what one would buy
(`masked_loss_table.py`, `recipe_study.py`): a checkpoint written ``a+b`` is the equal mixture
of ``a`` and ``b``, each step's distribution the mean of theirs; ``a*b`` is their product of
experts, each step's distribution proportional to the geometric mean of theirs (sharper where
they agree), made by ``model.combine`` as ``counterpoint combine`` makes it. A mixture costs
one pass of every network per pass and is off every product path, so it is measured here.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from counterpoint.evaluation import on_device
from counterpoint.model.network import Coconet
from counterpoint.model.products import combine
from counterpoint.model.registry import SHIPPED, load_model


class Mixture(torch.nn.Module):
    """Networks of one architecture, batch norm folded in, as one model to the evaluation:
    their log mean probability in place of logits (softmax leaves it unchanged)."""

    fused = True  # its networks are; the evaluation folds batch norm only where not

    def __init__(self, networks: list[Coconet]) -> None:
        super().__init__()
        if any(network.config != networks[0].config for network in networks):
            # one architecture: the same pitch range and receptive field, hence the same windows
            raise SystemExit("a mixture's networks must share one architecture")
        self.networks = torch.nn.ModuleList(networks)
        self.config = networks[0].config
        self.pitch_range = networks[0].pitch_range

    def receptive_field(self) -> int:
        return self.networks[0].receptive_field()

    def _mean(self, logits: list[torch.Tensor]) -> torch.Tensor:
        log_probs = torch.stack([torch.log_softmax(each.float(), -1) for each in logits])
        return torch.logsumexp(log_probs, 0) - math.log(len(logits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mean([network(x) for network in self.networks])

    def forward_center(self, x: torch.Tensor, inside: torch.Tensor | None = None) -> torch.Tensor:
        return self._mean([network.forward_center(x, inside) for network in self.networks])


def _parts(spec: str) -> list[str]:
    return spec.replace("*", "+").split("+")


def load(spec: str, device: str = "cpu") -> torch.nn.Module:
    """A shipped name or a path, ready to score on ``device``; ``a+b``: their mixture; ``a*b``:
    their product."""
    if "+" in spec and "*" in spec:
        raise SystemExit(f"{spec}: an ensemble is a mixture (a+b) or a product (a*b), not both")
    if "*" in spec:  # one network, as `counterpoint combine` makes it
        return on_device(combine([load_model(part) for part in _parts(spec)]), device)
    networks = [on_device(load_model(part), device) for part in _parts(spec)]
    return networks[0] if len(networks) == 1 else Mixture(networks)


def available(spec: str) -> bool:
    """Whether every network of ``spec`` is a shipped name or an existing file."""
    return all(part in SHIPPED or Path(part).exists() for part in _parts(spec))
