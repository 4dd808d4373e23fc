"""What a training run is: :class:`TrainConfig` (saved in its checkpoints and ``config.json``),
the named recipes, and the one way options given by a user (the CLI or Python) change a
config, for a new run and a resumed one alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from counterpoint.model.network import ModelConfig, preset


@dataclass
class TrainConfig:
    """Everything a run needs; saved in its checkpoints and ``config.json``."""

    run_dir: str = "runs/default"
    data: str = "music21"
    model: ModelConfig = field(default_factory=lambda: preset("default"))
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
