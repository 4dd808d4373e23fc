"""The Coconet network: a fully convolutional net over time x pitch, and its presets.

Input ``(batch, 8, steps, pitches)``: channels 0-3 are the four voices' pianorolls with the
unknown notes zeroed, channels 4-7 the masks (1 where a voice's note at that step is known,
constant across pitch). Output: logits ``(batch, 4, steps, pitches)``, a softmax over pitch
for every voice at every step. Being fully convolutional, it runs on any number of steps.

One :class:`ModelConfig` describes an architecture; :data:`PRESETS` holds the named ones. The
config travels inside every checkpoint so :func:`~counterpoint.model.checkpoint.load` rebuilds the
right network.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from counterpoint.errors import CheckpointError, ConfigError
from counterpoint.music.representation import NUM_VOICES, PitchRange


@dataclass
class ModelConfig:
    """An architecture. ``dilations`` lists (time, pitch) per hidden layer, cycling if
    shorter; ``separable`` makes hidden layers depthwise-separable (depthwise k x k, then
    pointwise 1 x 1), as in the Bach Doodle's browser model."""

    layers: int = 32
    filters: int = 64
    kernel: tuple[int, int] = (3, 3)
    dilations: list[tuple[int, int]] = field(default_factory=lambda: [(1, 1)])
    separable: bool = False
    # dropout after the first convolution of each residual pair, in training only (as in wide
    # residual networks): a regulariser, since the network overfits the 229 JSB pieces
    dropout: float = 0.0
    # drop whole feature maps (per example and channel) rather than single activations: a
    # coarser regulariser, far cheaper on CPU since it draws one number per map (a training
    # step 0.95-1.09x one without dropout, against 1.47-1.63x;
    # docs/notes/2026-11-25-session-05-dropout-and-overconfidence.md)
    dropout_channels: bool = False
    pitch_low: int = 36
    pitch_high: int = 81
    # a product of experts: this many networks of the above shape side by side, as grouped
    # convolutions in one network (one pass computes all), their logits averaged, so each
    # step's distribution is proportional to the geometric mean of theirs (see `combine`)
    members: int = 1

    def __post_init__(self) -> None:
        self.kernel = tuple(self.kernel)
        self.dilations = [tuple(d) for d in self.dilations]
        if (
            self.layers < 2
            or self.filters < 1
            or self.members < 1
            or not self.dilations
            or not 0 <= self.dropout < 1
        ):
            raise ConfigError(f"invalid model config {self}")

    @property
    def pitch_range(self) -> PitchRange:
        return PitchRange(self.pitch_low, self.pitch_high)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["kernel"] = list(self.kernel)
        data["dilations"] = [list(d) for d in self.dilations]
        if self.members == 1:  # a single network is written as before `members`: the same
            del data["members"]  # checkpoints, and the same keys for cached evaluations
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise CheckpointError(f"unknown model settings {sorted(unknown)}")
        return cls(**data)


_DOODLE_DILATIONS = [(1, 1), (2, 2), (4, 4), (8, 8), (16, 16), (16, 32)]
# Dilating along pitch only lets every layer see across the voices (a bass two octaves under
# the soprano) while the reach in time, which sets the cost of exact likelihood evaluation,
# stays small.
PITCH_DILATIONS = [(1, 1), (1, 2), (1, 4), (1, 8)]

PRESETS: dict[str, ModelConfig] = {
    # The Coconet paper's network: 64 layers of plain 3x3 convolutions, 128 filters.
    "paper": ModelConfig(layers=64, filters=128),
    # The Bach Doodle's browser model (Magenta.js): 33 depthwise-separable layers, 128
    # filters, 5 blocks of dilations (1,1) (2,2) (4,4) (8,8) (16,16) (16,32).
    "doodle": ModelConfig(layers=33, filters=128, separable=True, dilations=_DOODLE_DILATIONS),
    # 16 layers of 64 filters dilated along pitch only: the training default, chosen by
    # measured likelihood per CPU-hour
    # (docs/notes/2026-11-24-sessions-01-02-choosing-the-network.md). Also called "default".
    "pitch16": ModelConfig(layers=16, filters=64, dilations=PITCH_DILATIONS),
    # The shipped jsb model's networks: 20 layers of 64 filters dilated 1, 2, 4, 8 in time as
    # well as pitch (reach ±65 steps), dropping whole feature maps (0.15) while training.
    "jsb": ModelConfig(
        layers=20, filters=64, dilations=[(1, 1), (2, 2), (4, 4), (8, 8)], dropout=0.15, dropout_channels=True
    ),
    # The page's browser network: the jsb network at 40 filters (its reach, so its paper's-protocol
    # figure compares), about 0.39x its cost a pass (docs/notes/2026-12-07-session-33-runs.md).
    "browser": ModelConfig(
        layers=20, filters=40, dilations=[(1, 1), (2, 2), (4, 4), (8, 8)], dropout=0.15, dropout_channels=True
    ),
    # A tiny network for tests and smoke runs.
    "tiny": ModelConfig(layers=4, filters=16),
}


# Older names of presets, still accepted
PRESET_ALIASES = {"default": "pitch16"}


def preset(name: str) -> ModelConfig:
    """A copy of the named architecture (:data:`PRESETS`, or an alias in :data:`PRESET_ALIASES`)."""
    name = PRESET_ALIASES.get(name, name)
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}: expected one of {', '.join(PRESETS)}")
    return ModelConfig.from_dict(PRESETS[name].to_dict())


class ConvLayer(nn.Module):
    """One hidden convolution (plain or depthwise-separable) followed by batch norm."""

    def __init__(self, config: ModelConfig, dilation: tuple[int, int]) -> None:
        super().__init__()
        kt, kp = config.kernel
        padding = (dilation[0] * (kt // 2), dilation[1] * (kp // 2))
        c, m = config.filters * config.members, config.members
        if config.separable:
            self.conv = nn.Sequential(
                nn.Conv2d(c, c, config.kernel, padding=padding, dilation=dilation, groups=c, bias=False),
                nn.Conv2d(c, c, 1, groups=m, bias=False),
            )
        else:
            self.conv = nn.Conv2d(
                c, c, config.kernel, padding=padding, dilation=dilation, groups=m, bias=False
            )
        self.norm = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class Coconet(nn.Module):
    """Input conv, residual pairs of hidden convs (ReLU after each, skip every two layers),
    output conv to one logit map per voice (per member, averaged over members)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        kt, kp = config.kernel
        channels, m = config.filters * config.members, config.members
        padding = (kt // 2, kp // 2)
        self.input = nn.Conv2d(2 * NUM_VOICES, channels, config.kernel, padding=padding, bias=False)
        self.input_norm = nn.BatchNorm2d(channels)
        hidden = config.layers - 2
        self.hidden = nn.ModuleList(
            ConvLayer(config, config.dilations[i % len(config.dilations)]) for i in range(hidden)
        )
        self.output = nn.Conv2d(channels, NUM_VOICES * m, config.kernel, padding=padding, groups=m)
        dropout = nn.Dropout2d if config.dropout_channels else nn.Dropout
        self.dropout = dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.fused = False  # True once batch norm is folded in (fuse_batch_norm): inference only
        self.source: Path | None = None  # the checkpoint it was loaded from (its int8 file is beside it)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in-place add and ReLU: each acts on a fresh conv or batch-norm output that nothing
        # else needs (autograd would refuse otherwise), and saves a copy per layer
        h = F.relu(self.input_norm(self.input(x)), inplace=True)
        skip = h
        for index, layer in enumerate(self.hidden):
            h = layer(h)
            if index % 2 == 1:  # close a residual pair
                h = F.relu(h.add_(skip), inplace=True)
                skip = h
            else:
                h = self.dropout(F.relu(h, inplace=True))
        return self._average_members(self.output(h))

    def _average_members(self, logits: torch.Tensor) -> torch.Tensor:
        """``(B, 4 * members, T, P)`` member logits to ``(B, 4, T, P)``: their mean."""
        if self.config.members == 1:
            return logits
        # constant slices rather than a reshape: the ONNX export then needs no shape arithmetic,
        # which int8 quantization cannot handle
        return average_logits(
            [logits[:, i * NUM_VOICES : (i + 1) * NUM_VOICES] for i in range(self.config.members)]
        )

    def forward_center(self, x: torch.Tensor, inside: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, 4, 1, P)`` at the middle step of windows ``x`` of ``2R + 1`` steps,
        computed without padding in time: every layer only computes the steps the middle
        one depends on, so a window costs about half of :meth:`forward`.

        ``inside`` ``(B, 2R + 1)``, 1 where a window's step lies in the piece, lets a window
        hang over the piece's edge: its steps outside must be zero in ``x``, and every layer's
        output there is zeroed, which is what zero padding at the edge shows the next layer.
        The result is then :meth:`forward` on the whole piece, at the middle step. Without
        ``inside`` it is that only where the window lies inside the piece. Inference only: it
        zeroes activations in place, which autograd would refuse."""

        def conv(module: nn.Conv2d, h: torch.Tensor) -> torch.Tensor:
            return F.conv2d(
                h,
                module.weight,
                module.bias,
                padding=(0, module.padding[1]),
                dilation=module.dilation,
                groups=module.groups,
            )

        def center(steps_of: torch.Tensor, steps: int) -> torch.Tensor:
            offset = (steps_of.shape[2] - steps) // 2
            return steps_of[:, :, offset : offset + steps]

        # the (window, step) pairs beyond the piece's edge, zeroed in place after every layer:
        # they are few, so this costs far less than multiplying every layer by a mask
        outside = None if inside is None or bool(inside.all()) else (~inside).nonzero()

        def padded(h: torch.Tensor) -> torch.Tensor:
            if outside is None:
                return h
            offset = (x.shape[2] - h.shape[2]) // 2
            steps = outside[:, 1] - offset
            kept = (steps >= 0) & (steps < h.shape[2])
            h[outside[kept, 0], :, steps[kept]] = 0
            return h

        h = padded(F.relu(self.input_norm(conv(self.input, x))))
        skip = h
        for index, layer in enumerate(self.hidden):
            inner = layer if self.fused else layer.conv
            h = conv(inner[1], conv(inner[0], h)) if isinstance(inner, nn.Sequential) else conv(inner, h)
            if not self.fused:
                h = layer.norm(h)
            if index % 2 == 1:
                h = padded(F.relu(h + center(skip, h.shape[2])))
                skip = h
            else:
                h = padded(F.relu(h))
        return self._average_members(conv(self.output, h))

    @property
    def pitch_range(self) -> PitchRange:
        return self.config.pitch_range

    def receptive_field(self) -> int:
        """How many steps to each side of a step can influence its output."""
        kt = self.config.kernel[0] // 2
        reach = 2 * kt  # input and output layers
        for i in range(self.config.layers - 2):
            reach += kt * self.config.dilations[i % len(self.config.dilations)][0]
        return reach


def weights_version(model: nn.Module) -> tuple[int, ...]:
    """Changes whenever a parameter or buffer is updated in place (training bumps their version
    counters): what the caches of inference networks made from ``model`` are keyed on."""
    return tuple(t._version for t in itertools.chain(model.parameters(), model.buffers()))


def dtype_of(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def make_input(pianoroll: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Network input ``(B, 8, T, P)`` from pianorolls ``(B, 4, T, P)`` and the known-note mask
    ``(B, 4, T)`` (1 where known): unknown notes are zeroed, masks broadcast over pitch."""
    mask = known.to(pianoroll.dtype).unsqueeze(-1).expand_as(pianoroll)
    return torch.cat([pianoroll * mask, mask], dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- checkpoints


def average_logits(logits: list[torch.Tensor]) -> torch.Tensor:
    """The members' logits averaged: the logits of their product of experts."""
    return sum(logits[1:], logits[0]) / len(logits)
