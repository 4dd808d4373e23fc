"""The Coconet network: a fully convolutional net over time x pitch, and its checkpoints.

Input ``(batch, 8, steps, pitches)``: channels 0-3 are the four voices' pianorolls with the
unknown notes zeroed, channels 4-7 the masks (1 where a voice's note at that step is known,
constant across pitch). Output: logits ``(batch, 4, steps, pitches)``, a softmax over pitch
for every voice at every step. Being fully convolutional, it runs on any number of steps.

One :class:`ModelConfig` describes an architecture; :data:`PRESETS` holds the named ones. The
config travels inside every checkpoint so :func:`load` rebuilds the right network.
"""

from __future__ import annotations

import copy
import io as _io
import itertools
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from counterpoint.errors import CheckpointError, ConfigError, MissingFileError
from counterpoint.music.representation import NUM_VOICES, PitchRange

CHECKPOINT_FORMAT = 1


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
    # step 0.95-1.09x one without dropout, against 1.47-1.63x; docs/dropout_cost.txt)
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
    # This project's default, chosen by measured likelihood per CPU-hour (docs/model.md).
    "default": ModelConfig(layers=16, filters=64, dilations=PITCH_DILATIONS),
    # A tiny network for tests and smoke runs.
    "tiny": ModelConfig(layers=4, filters=16),
}


def preset(name: str) -> ModelConfig:
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


def bf16_is_fast() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX512-BF16 or AMX), where bf16 roughly
    doubles the speed of training (benchmarks/train_speed.py) and of sampling
    (benchmarks/sample_speed.py)."""
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())


def weights_version(model: nn.Module) -> tuple[int, ...]:
    """Changes whenever a parameter or buffer is updated in place (training bumps their version
    counters): what the caches of inference networks made from ``model`` are keyed on."""
    return tuple(t._version for t in itertools.chain(model.parameters(), model.buffers()))


def dtype_of(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def fuse_batch_norm(model: Coconet, dtype: torch.dtype = torch.float32) -> Coconet:
    """A copy of an eval-mode model with every batch norm folded into the convolution before
    it, in channels-last layout and in ``dtype``: the same function in fewer, faster ops, for
    sampling and evaluation (never for training). bfloat16 weights run about 1.7x faster
    than float32 on CPUs with native bf16."""
    if model.fused:
        return model if dtype_of(model) == dtype else copy.deepcopy(model).to(dtype)
    fused = copy.deepcopy(model).eval()
    fused.input = fuse_conv_bn_eval(fused.input, fused.input_norm)
    fused.input_norm = nn.Identity()
    hidden = []
    for layer in fused.hidden:  # each ConvLayer becomes its bare convolution(s): fewer calls
        if isinstance(layer.conv, nn.Sequential):  # separable: fold into the pointwise conv
            layer.conv[1] = fuse_conv_bn_eval(layer.conv[1], layer.norm)
            hidden.append(layer.conv)
        else:
            hidden.append(fuse_conv_bn_eval(layer.conv, layer.norm))
    fused.hidden = nn.ModuleList(hidden)
    fused.dropout = nn.Identity()  # inference only: never drop, whatever mode it is put in
    fused.fused = True
    return fused.to(dtype=dtype, memory_format=torch.channels_last)


def deepen(model: Coconet, layers: int) -> Coconet:
    """A deeper copy of ``model`` that computes the same function, to train further: its
    layers, then new residual pairs before the output layer. The closing batch norm of each new
    pair starts with zero scale and shift, so the pair adds nothing to its skip input (and the
    ReLU after it leaves that nonnegative input as it is) until training moves it. Grows a
    trained network's capacity without starting over."""
    if model.fused:
        raise ConfigError("cannot deepen a model with fused batch norm")
    added = layers - model.config.layers
    if added <= 0 or added % 2 or (model.config.layers - 2) % 2:
        raise ConfigError(
            f"cannot grow {model.config.layers} layers to {layers}: add a positive, even number "
            "of layers to a network whose hidden layers form whole residual pairs"
        )
    deeper = Coconet(replace(model.config, layers=layers))
    state = deeper.state_dict()
    state.update(model.state_dict())  # hidden layers keep their indices: new ones come after
    deeper.load_state_dict(state)
    for index in range(model.config.layers - 2, layers - 2):
        if index % 2 == 1:  # closes a new pair
            nn.init.zeros_(deeper.hidden[index].norm.weight)
            nn.init.zeros_(deeper.hidden[index].norm.bias)
    return deeper.train(model.training)


def average_logits(logits: list[torch.Tensor]) -> torch.Tensor:
    """The members' logits averaged: the logits of their product of experts."""
    return sum(logits[1:], logits[0]) / len(logits)


def combine(models: list[Coconet]) -> Coconet:
    """The product of experts of trained networks of one architecture, as one network
    (``members``): each step's distribution proportional to the geometric mean of theirs,
    since a softmax of averaged logits is the normalized product of the softmaxes' roots. A
    pass costs what the networks' passes cost together, in one call. Products sharpen where
    the networks agree; two runs of one recipe err differently enough for the product to be a
    better model than either (docs/model.md)."""
    if len(models) < 2:
        raise ConfigError("combine needs at least two networks")
    single = [replace(m.config, members=1, dropout=0.0) for m in models]
    if any(m.fused or m.config.members != 1 for m in models) or any(c != single[0] for c in single):
        raise ConfigError("combine needs unfused single networks of one architecture (dropout aside)")
    product = Coconet(replace(models[0].config, members=len(models)))
    states = [m.state_dict() for m in models]
    product.load_state_dict(
        {
            # every member's channels in turn: its block of each grouped conv, and of each norm
            name: torch.cat([s[name] for s in states]) if states[0][name].ndim else states[0][name]
            for name in product.state_dict()
        }
    )
    return product.eval()


def split(model: Coconet) -> list[Coconet]:
    """The member networks of a product (``combine``'s inverse); a single network alone."""
    m = model.config.members
    if m == 1:
        return [model]
    if model.fused:
        raise ConfigError("cannot split a model with fused batch norm")
    state = model.state_dict()
    members = []
    for index in range(m):
        member = Coconet(replace(model.config, members=1))
        member.load_state_dict(
            {
                name: state[name].chunk(m)[index] if state[name].ndim else state[name]
                for name in member.state_dict()
            }
        )
        members.append(member.train(model.training))
    return members


def make_input(pianoroll: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Network input ``(B, 8, T, P)`` from pianorolls ``(B, 4, T, P)`` and the known-note mask
    ``(B, 4, T)`` (1 where known): unknown notes are zeroed, masks broadcast over pitch."""
    mask = known.to(pianoroll.dtype).unsqueeze(-1).expand_as(pianoroll)
    return torch.cat([pianoroll * mask, mask], dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- checkpoints


def save(path: str | os.PathLike, model: Coconet, extra: dict | None = None, half: bool = False) -> None:
    """Write a checkpoint atomically: ``{"format", "config", "state", **extra}``."""
    if model.fused:
        raise ConfigError("a model with fused batch norm is for inference only and cannot be saved")
    from counterpoint.io.files import write_atomically

    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    payload = {"format": CHECKPOINT_FORMAT, "config": model.config.to_dict(), "state": state}
    payload.update(extra or {})
    buffer = _io.BytesIO()
    torch.save(payload, buffer)
    write_atomically(path, lambda temporary: temporary.write_bytes(buffer.getvalue()))


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint's dictionary, loaded safely (``weights_only=True``) and checked."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for non-checkpoints
        raise CheckpointError(f"{path}: not a counterpoint checkpoint ({type(error).__name__})") from None
    if not isinstance(payload, dict) or "config" not in payload or "state" not in payload:
        raise CheckpointError(f"{path}: not a counterpoint checkpoint")
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {payload.get('format')} is not supported "
            f"(this version reads format {CHECKPOINT_FORMAT})"
        )
    return payload


def averaged_state(payload: dict) -> dict | None:
    """The moving average of the weights that a training run's ``last.pt`` keeps beside its
    raw weights (``TrainConfig.ema_decay``), as a model state dict; None if it keeps none.
    ``best.pt`` needs none of this: its weights already are the average that was validated."""
    if "ema" not in payload:
        return None
    # torch's AveragedModel stores the averaged network as "module.*" plus a step count
    return {k.removeprefix("module."): v for k, v in payload["ema"].items() if k.startswith("module.")}


def from_checkpoint(payload: dict, name: str = "checkpoint", average: bool = False) -> Coconet:
    """The network a checkpoint's payload describes; ``average``: its moving average of the
    weights instead of the raw ones, where it keeps one."""
    config = ModelConfig.from_dict(payload["config"])
    model = Coconet(config)
    weights = (averaged_state(payload) if average else None) or payload["state"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"{name}: weights do not fit the config ({str(error)[:120]})") from None
    return model.eval()


def load(path: str | os.PathLike) -> Coconet:
    """Rebuild the network a checkpoint describes, in eval mode, on the CPU."""
    model = from_checkpoint(read_checkpoint(path), str(path))
    model.source = Path(path)
    return model


WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED = {
    "jsb": "Trained on the JSB Chorales train split (the default; benchmark figures in docs/model-card.md)",
    "music21": "Trained on every four-part chorale in music21's corpus (no held-out benchmark)",
}


def load_shipped(name: str = "jsb") -> Coconet:
    """A model that ships inside the package (see :data:`SHIPPED`)."""
    if name not in SHIPPED:
        raise ConfigError(f"unknown shipped model {name!r}: expected one of {', '.join(SHIPPED)}")
    path = WEIGHTS_DIR / f"{name}.pt"
    if not path.exists():
        raise MissingFileError(f"{path}: the shipped model {name!r} is not installed; pass --checkpoint")
    return load(path)


def load_model(checkpoint: str | os.PathLike | None = None) -> Coconet:
    """A checkpoint path, a shipped model's name, or (None) the default shipped model."""
    if checkpoint is None:
        return load_shipped()
    if str(checkpoint) in SHIPPED:
        return load_shipped(str(checkpoint))
    return load(checkpoint)
