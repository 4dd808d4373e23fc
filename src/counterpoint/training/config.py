"""What a training run is: :class:`TrainConfig` (saved in its checkpoints and ``config.json``),
the named recipes, and the one way options given by a user (the CLI or Python) change a
config, for a new run and a resumed one alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from counterpoint.errors import ConfigError
from counterpoint.model.network import ModelConfig, preset


@dataclass
class TrainConfig:
    """Everything a run needs; saved in its checkpoints and ``config.json``."""

    run_dir: str = "runs/default"
    data: str = "music21"
    model: ModelConfig = field(default_factory=lambda: preset("pitch16"))
    crop_steps: int = 64
    batch_size: int = 20
    learning_rate: float = 2e-3
    min_learning_rate: float = 5e-5
    warmup_steps: int = 200
    max_steps: int = 20000
    max_minutes: float = 0.0  # stop after this much wall time (0: no limit)
    mask: str = "orderless"
    augment: bool = True
    # with augment: transpose by at most this many semitones (0: any shift that keeps every
    # voice in the model's range). Small shifts keep each voice near its own tessitura.
    max_shift: int = 0
    # AdamW's decoupled decay of the convolution kernels, per unit of learning rate (0: Adam)
    weight_decay: float = 0.0
    seed: int = 0
    eval_every: int = 500
    eval_crops: int = 256  # validation windows, fixed by the seed
    patience: int = 8  # evaluations without improvement before stopping (0: never)
    checkpoint_minutes: float = 5.0
    # keep an exponential moving average of the weights (and batch-norm statistics) with this
    # decay per step; it is what gets validated and saved as best.pt (0: off)
    ema_decay: float = 0.0
    # start from this checkpoint's weights (a new run only); a deeper ``model`` grows it with
    # new residual pairs that start as the identity (model.deepen)
    init_from: str = ""
    # learn from this model's distributions too (a checkpoint path or a shipped model's name):
    # the loss is teacher_weight x the cross-entropy from its distributions on the erased
    # notes, plus (1 - teacher_weight) x the NLL of Bach's notes
    teacher: str = ""
    teacher_weight: float = 0.5
    # the teacher's weights' hash, set when a run starts: a resumed run refuses another teacher
    # (a shipped name such as jsb names other weights after an update)
    teacher_fingerprint: str = ""
    device: str = "cpu"
    channels_last: bool = True
    bf16: bool = False  # bf16 autocast for the forward pass (2x faster on CPUs with AVX512-BF16)
    progress: bool = True

    def to_dict(self) -> dict:
        data = asdict(self)
        data["model"] = self.model.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        data["model"] = ModelConfig.from_dict(data["model"])
        return cls(**data)


# Named recipes: a new run's settings (TrainConfig fields; "model" names a preset), before the
# options a user gives, which win.
RECIPES: dict[str, dict] = {
    # one of the shipped jsb model's two networks (docs/model-card.md): the jsb preset from
    # scratch on 128-step crops at batch 10 without transposition, with orderless and frame
    # masks (half of each batch), Adam at a peak of 1e-3 on an 18,000-step cosine, validated
    # every 500 steps on the moving average of its weights (0.999), never stopped early. About
    # 20 hours on two AVX2 cores. The second network adds weight_decay=0.1.
    "jsb": {
        "model": "jsb",
        "mask": "orderless+frames",
        "crop_steps": 128,
        "batch_size": 10,
        "augment": False,
        "learning_rate": 1e-3,
        "ema_decay": 0.999,
        "max_steps": 18000,
        "eval_every": 500,
        "patience": 0,
    },
    # the page's browser network (docs/model-card.md): the browser preset distilled from the
    # shipped product jsb (half of each erased note's target its distribution), with the second
    # jsb network's weight decay, on a 2,500-step cosine, in float32 (bf16 autocast gave NaN
    # losses with 40 filters on an AVX-512 BF16 CPU). About 45 minutes on two idle AVX-512 cores
    # (1.1 s a step, the teacher in int8); the shipped network is a second run on from its weights
    # (scripts/retrain-browser.sh).
    "browser": {
        "model": "browser",
        "mask": "orderless+frames",
        "crop_steps": 128,
        "batch_size": 10,
        "augment": False,
        "learning_rate": 1e-3,
        "weight_decay": 0.1,
        "ema_decay": 0.999,
        "max_steps": 2500,
        "eval_every": 500,
        "patience": 0,
        "teacher": "jsb",
        "teacher_weight": 0.5,
        "bf16": False,
    },
}

# What may change when a run resumes (the rest would make it another run)
RESUMABLE = (
    "max_steps",
    "max_minutes",
    "learning_rate",
    "augment",
    "max_shift",
    "eval_every",
    "bf16",
    "device",
    "data",
)
# Options that change the architecture of a new run's network (ModelConfig fields)
MODEL_OPTIONS = ("layers", "kernel", "dilations", "dropout", "dropout_channels")


def new_config(
    recipe: str | None = None,
    model: str | ModelConfig | None = None,
    architecture_of: ModelConfig | None = None,
    **options,
) -> TrainConfig:
    """A new run's config: the defaults, then ``recipe``'s settings, then the ``options`` given
    (a TrainConfig field or one of :data:`MODEL_OPTIONS`; None means not given). ``model`` is a
    preset's name or a config; ``architecture_of`` the config of the checkpoint a run starts
    from (``init_from``), whose architecture it keeps unless options change it."""
    if recipe is not None and recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r}: expected one of {', '.join(RECIPES)}")
    settings = dict(RECIPES[recipe]) if recipe else {}
    model = model if model is not None else settings.pop("model", "pitch16")
    settings.pop("model", None)
    architecture = architecture_of or (preset(model) if isinstance(model, str) else model)
    changes = {name: options.pop(name) for name in MODEL_OPTIONS if options.get(name) is not None}
    settings.update({name: value for name, value in options.items() if value is not None})
    return TrainConfig(model=replace(architecture, **changes), **settings)


def with_options(config: TrainConfig, **options) -> TrainConfig:
    """``config`` with the ``options`` given (not None) replacing its values: what a resumed run
    takes from the command line (:data:`RESUMABLE`)."""
    unknown = set(options) - set(RESUMABLE)
    if unknown:
        raise ConfigError(f"a resumed run cannot change {', '.join(sorted(unknown))}")
    return replace(config, **{name: value for name, value in options.items() if value is not None})
