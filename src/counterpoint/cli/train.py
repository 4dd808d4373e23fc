"""``counterpoint train``: a new run, or a resumed one, from options, a recipe, or both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from counterpoint.cli.options import user_errors


def _stored_train_config(run_dir: Path) -> dict | None:
    """A run's settings: its ``config.json``, or the copy inside ``last.pt`` (a run kept in git
    as that one file resumes from it alone)."""
    config_path, last_path = run_dir / "config.json", run_dir / "last.pt"
    if config_path.exists():
        return json.loads(config_path.read_text())
    if last_path.exists():
        from counterpoint.model.checkpoint import read_checkpoint

        stored = read_checkpoint(last_path).get("train_config")
        return json.loads(stored) if stored else None
    return None


@user_errors
def train(
    run_dir: Annotated[Path, typer.Option("--run-dir", help="where checkpoints and the log go")] = Path(
        "runs/default"
    ),
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="'music21', 'music21-all' (every piece in train) or a JSB .npz/.json path "
            "[default: music21]",
        ),
    ] = None,
    recipe: Annotated[
        str | None,
        typer.Option(
            help="a named recipe (jsb: the shipped networks'; browser: the page's network); the "
            "options given here change it"
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="architecture: jsb (the shipped networks'), pitch16 (alias: default), paper, doodle, "
            "tiny [default: pitch16, or the recipe's]"
        ),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="training steps (the LR schedule spans them) [default: 20000]")
    ] = None,
    minutes: Annotated[
        float | None, typer.Option(help="total training time budget in minutes; the LR schedule ends there")
    ] = None,
    layers: Annotated[
        int | None, typer.Option(help="network depth, overriding the preset's (new runs)")
    ] = None,
    kernel: Annotated[
        str | None, typer.Option(help="convolution kernel, time x pitch, e.g. 5x3 (new runs) [default: 3x3]")
    ] = None,
    dilations: Annotated[
        str | None,
        typer.Option(
            help="(time x pitch) dilation of each hidden layer, cycling, e.g. 1x1,2x2,4x4,8x8 "
            "(new runs) [default: the preset's]"
        ),
    ] = None,
    dropout: Annotated[
        float | None,
        typer.Option(help="dropout inside each residual pair, a regulariser (new runs) [default: 0]"),
    ] = None,
    dropout_channels: Annotated[
        bool,
        typer.Option(
            "--dropout-channels",
            help="dropout drops whole feature maps, not single activations: much cheaper on CPU (new runs)",
        ),
    ] = False,
    init_from: Annotated[
        Path | None,
        typer.Option(
            "--init-from",
            help="start a new run from this checkpoint's weights; with a larger --layers, the "
            "network grows by residual pairs that start as the identity; --dilations and --dropout "
            "may differ too",
        ),
    ] = None,
    teacher: Annotated[
        str | None,
        typer.Option(
            help="learn from this model's distributions too (knowledge distillation): a checkpoint "
            "path or a shipped model's name, e.g. jsb (new runs)"
        ),
    ] = None,
    teacher_weight: Annotated[
        float | None,
        typer.Option(help="the teacher's share of the loss, the rest Bach's notes (new runs) [default: 0.5]"),
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="examples per step [default: 20]")] = None,
    crop: Annotated[int | None, typer.Option(help="crop length in 16th steps [default: 64]")] = None,
    lr: Annotated[float | None, typer.Option(help="peak learning rate (Adam) [default: 0.002]")] = None,
    mask: Annotated[
        str | None,
        typer.Option(
            help="training masks: orderless, frames, continuation, bernoulli, voices, time_block, "
            "or a mixture such as orderless+frames (half the batch each) [default: orderless]"
        ),
    ] = None,
    augment: Annotated[bool | None, typer.Option(help="random transposition [default: augment]")] = None,
    max_shift: Annotated[
        int | None,
        typer.Option(help="transpose by at most this many semitones (0: any that fits) [default: 0]"),
    ] = None,
    weight_decay: Annotated[
        float | None,
        typer.Option(help="AdamW decay of the convolution kernels (new runs; 0: Adam) [default: 0]"),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed for data, masks and weights [default: 0]")] = None,
    eval_every: Annotated[int | None, typer.Option(help="validate every N steps [default: 500]")] = None,
    patience: Annotated[
        int | None, typer.Option(help="early stop after N evaluations without gain (0: never) [default: 8]")
    ] = None,
    ema: Annotated[
        float | None,
        typer.Option(
            help="keep a moving average of the weights with this decay per step (e.g. 0.999), "
            "validated and saved as best.pt; 0: off (new runs) [default: 0]"
        ),
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda [default: cpu]")] = None,
    bf16: Annotated[
        bool | None, typer.Option(help="bf16 autocast (default: on where the CPU has native bf16)")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="continue the run in --run-dir from last.pt, with its settings; --minutes, --steps, "
            "--lr, --augment, --max-shift, --eval-every, --bf16, --device and --data (the same "
            "chorales, elsewhere) given here change them from now on"
        ),
    ] = False,
) -> None:
    """Train a model with orderless NADE (works unchanged under torchrun)."""
    from counterpoint.model.checkpoint import load
    from counterpoint.runtime.backend import bf16_is_fast
    from counterpoint.training.config import RECIPES, TrainConfig, new_config, with_options
    from counterpoint.training.loop import train as run_training

    # options given on the command line win, for a new run and a resumed one alike
    resumable = dict(
        max_steps=steps, max_minutes=minutes, learning_rate=lr, augment=augment, max_shift=max_shift,
        eval_every=eval_every, bf16=bf16, device=device, data=data,
    )  # fmt: skip
    if resume and (stored := _stored_train_config(run_dir)) is not None:
        config = TrainConfig.from_dict(stored)
        config.run_dir = str(run_dir)  # a copied run directory continues in its new place
        config = with_options(config, **resumable)
    else:
        config = new_config(
            recipe,
            preset,
            architecture_of=load(init_from).config if init_from is not None else None,
            run_dir=str(run_dir),
            crop_steps=crop,
            batch_size=batch_size,
            mask=mask,
            weight_decay=weight_decay,
            seed=seed,
            patience=patience,
            ema_decay=ema,
            # given, else the recipe's, else on where the CPU has native bf16
            bf16=bf16 if bf16 is not None else RECIPES.get(recipe or "", {}).get("bf16", bf16_is_fast()),
            init_from=str(init_from or ""),
            teacher=teacher,
            teacher_weight=teacher_weight,
            layers=layers,
            kernel=_pairs(kernel, "--kernel")[0] if kernel is not None else None,
            dilations=_pairs(dilations, "--dilations") if dilations is not None else None,
            dropout=dropout,
            dropout_channels=True if dropout_channels else None,
            **{name: value for name, value in resumable.items() if name != "bf16"},
        )
    summary = run_training(config, resume=resume)
    if summary["rank"] == 0:
        typer.echo(
            f"stopped ({summary['stopped']}) after {summary['steps']} steps, "
            f"{summary['elapsed_s'] / 60:.1f} min; best validation loss "
            f"{summary['best_valid_loss']:.4f} nats/note; best checkpoint {summary['best']}"
        )


def _pairs(text: str, option: str) -> list[tuple[int, int]]:
    """``"1x1,2x4"`` -> ``[(1, 1), (2, 4)]``: (time, pitch) pairs of positive integers."""
    from counterpoint.errors import ConfigError

    try:
        pairs = [tuple(int(n) for n in part.split("x")) for part in text.split(",")]
    except ValueError:
        pairs = []
    if not pairs or any(len(pair) != 2 or min(pair) < 1 for pair in pairs):
        raise ConfigError(f"{option} {text!r}: expected time x pitch pairs such as 3x3 or 1x1,2x2")
    return pairs
