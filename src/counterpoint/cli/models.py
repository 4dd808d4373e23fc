"""Commands that make a model file from others: ``export`` (a checkpoint's weights for shipping),
``combine`` (a product of networks) and ``quantize`` (its int8 ONNX file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from counterpoint.cli.options import user_errors


@user_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="a training checkpoint (e.g. runs/x/best.pt)")],
    output: Annotated[Path, typer.Argument(help="where to write the weights-only checkpoint")],
    half: Annotated[bool, typer.Option(help="store weights in half precision")] = True,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw", help="from a last.pt that keeps a moving average, take the raw weights instead"
        ),
    ] = False,
) -> None:
    """Strip a training checkpoint to its config and weights (what ships in the package).

    A run's last.pt keeps the optimizer's raw weights and, with --ema, their moving average:
    the average is what training validated and what gets exported, unless --raw."""
    from counterpoint.model.checkpoint import averaged_state, from_checkpoint, read_checkpoint, save

    payload = read_checkpoint(checkpoint)
    extra = {"train_config": payload["train_config"]} if "train_config" in payload else {}
    for key in ("step", "best", "elapsed"):
        if key in payload:
            extra[key] = payload[key]
    average = not raw and averaged_state(payload) is not None
    save(output, from_checkpoint(payload, str(checkpoint), average=average), extra, half=half)
    kind = "moving average of the weights" if average else "weights"
    typer.echo(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB, the {kind})")
    typer.echo(f"for fast sampling without bf16: counterpoint quantize {output} --data <its training data>")


@user_errors
def combine(
    checkpoints: Annotated[list[Path], typer.Argument(help="two or more checkpoints of one architecture")],
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write the combined checkpoint")],
    half: Annotated[bool, typer.Option(help="store weights in half precision")] = True,
) -> None:
    """Combine trained networks into one product of experts: each note's distribution
    proportional to the geometric mean of theirs, one pass computing all of them.

    A pass costs the networks' passes together; the product predicts better than either
    where they err differently (two runs of one recipe do;
    docs/notes/2026-11-30-sessions-27-30-product-of-experts.md)."""
    from counterpoint.model.checkpoint import from_checkpoint, read_checkpoint, save
    from counterpoint.model.products import combine as product

    payloads = [read_checkpoint(path) for path in checkpoints]
    pairs = zip(payloads, checkpoints, strict=True)
    # a run's last.pt gives its moving average, as export takes
    models = [from_checkpoint(payload, str(path), average=True) for payload, path in pairs]
    # each member's provenance, as export keeps it for one network
    members = [
        {key: payload[key] for key in ("train_config", "step", "best", "elapsed") if key in payload}
        for payload in payloads
    ]
    save(output, product(models), {"members": members}, half=half)
    typer.echo(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB, {len(models)} networks)")
    typer.echo(f"for fast sampling without bf16: counterpoint quantize {output} --data <its training data>")


@user_errors
def quantize(
    checkpoint: Annotated[
        str, typer.Argument(help="a checkpoint path, or a shipped model (jsb) to remake its int8 file")
    ],
    data: Annotated[
        str,
        typer.Option("--data", help="calibration chorales (its training data): 'music21' or a JSB path"),
    ] = "music21",
    crops: Annotated[
        int, typer.Option(help="2-measure training crops to calibrate activation ranges on")
    ] = 256,
    seed: Annotated[int, typer.Option(help="which crops and masks")] = 0,
) -> None:
    """Write the int8 version of a model beside its checkpoint (x.pt -> x.int8.onnx): sampling
    then runs it with ONNX Runtime on CPUs without native bf16, passes 2.5x as fast."""
    from counterpoint.data.batches import calibration_set
    from counterpoint.data.datasets import load_dataset
    from counterpoint.errors import ConfigError
    from counterpoint.model.registry import load_model
    from counterpoint.runtime.int8 import int8_path
    from counterpoint.runtime.int8 import quantize as run

    if crops < 1:
        raise ConfigError("--crops must be at least 1")
    model = load_model(checkpoint)
    dataset = load_dataset(data)
    calibration = calibration_set(dataset.train, model.pitch_range, crops=crops, seed=seed)
    path = run(model, calibration, int8_path(model.source))
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, calibrated on {crops} crops of {data})")
