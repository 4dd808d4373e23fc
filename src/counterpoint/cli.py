"""The ``counterpoint`` command line (typer): data, convert, train, compose, harmonize, infill,
transition, continue, evaluate, serve.

Every user error (a :class:`~counterpoint.errors.CounterpointError`) is printed as one line
on stderr and exits with status 2; nothing is half-written.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from counterpoint.errors import CounterpointError

app = typer.Typer(
    help="Compose and harmonize four-voice chorales in the style of J. S. Bach (Coconet).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def user_errors(command):
    """Turn a user error into one line on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CounterpointError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        except ValueError as error:  # e.g. an unknown voice name
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        except OSError as error:  # e.g. an output folder that may not be written to
            typer.echo(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), err=True)
            raise typer.Exit(2) from None

    return wrapper


def _echo_json(data: dict) -> None:
    typer.echo(json.dumps(data, indent=2))


# --------------------------------------------------------------------------- data


@app.command()
@user_errors
def data(
    source: Annotated[
        str, typer.Argument(help="'music21' (the shipped corpus) or a JSB .npz/.json path")
    ] = "music21",
    refresh: Annotated[bool, typer.Option(help="re-parse the corpus instead of using the cache")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print statistics as JSON")] = False,
) -> None:
    """Load (and cache) a dataset and print its statistics."""
    from counterpoint.data.datasets import SPLITS, timed_load

    dataset, seconds = timed_load(source, refresh=refresh)
    stats = dataset.statistics()
    stats["load_seconds"] = round(seconds, 3)
    stats["skipped_files"] = dataset.skipped
    if as_json:
        _echo_json(stats)
        return
    total = sum(stats[s]["pieces"] for s in SPLITS)
    typer.echo(f"{dataset.name}: {total} chorales loaded in {seconds:.2f} s")
    for split in SPLITS:
        s = stats[split]
        typer.echo(
            f"  {split:5}: {s['pieces']:4} pieces, {s['steps']:6} steps "
            f"(length {s['min_steps']}/{s['median_steps']}/{s['max_steps']} min/median/max)"
        )
    if dataset.skipped:
        typer.echo(f"  skipped {len(dataset.skipped)} files:")
        for name, reason in sorted(dataset.skipped.items()):
            typer.echo(f"    {name}: {reason}")


@app.command()
@user_errors
def convert(
    source: Annotated[Path, typer.Argument(help="input .mid/.musicxml/.mxl/.xml/.npy/.json")],
    target: Annotated[Path, typer.Argument(help="output file; its extension picks the format")],
    tempo: Annotated[float, typer.Option(help="tempo in quarter notes per minute")] = 80,
) -> None:
    """Convert between MIDI, MusicXML and the array formats (.npy, .json)."""
    from counterpoint.io import read_chorale, suffix_of, write_chorale

    suffix_of(target)  # refuse an unknown output type before reading anything
    chorale = read_chorale(source)
    write_chorale(chorale, target, tempo_bpm=tempo)
    typer.echo(f"wrote {target} ({len(chorale)} steps)")


# --------------------------------------------------------------------------- train


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


@app.command()
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
    preset: Annotated[str, typer.Option(help="architecture: paper, doodle, default, tiny")] = "default",
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
        float,
        typer.Option(help="the teacher's share of the loss, the rest Bach's notes (new runs)"),
    ] = 0.5,
    batch_size: Annotated[int, typer.Option(help="examples per step")] = 20,
    crop: Annotated[int, typer.Option(help="crop length in 16th steps")] = 64,
    lr: Annotated[float | None, typer.Option(help="peak learning rate (Adam) [default: 0.002]")] = None,
    mask: Annotated[
        str,
        typer.Option(
            help="training masks: orderless, frames, continuation, bernoulli, voices, time_block, "
            "or a mixture such as orderless+frames (half the batch each)"
        ),
    ] = "orderless",
    augment: Annotated[bool | None, typer.Option(help="random transposition [default: augment]")] = None,
    max_shift: Annotated[
        int | None,
        typer.Option(help="transpose by at most this many semitones (0: any that fits) [default: 0]"),
    ] = None,
    weight_decay: Annotated[
        float, typer.Option(help="AdamW decay of the convolution kernels (new runs; 0: Adam)")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="seed for data, masks and weights")] = 0,
    eval_every: Annotated[int | None, typer.Option(help="validate every N steps [default: 500]")] = None,
    patience: Annotated[int, typer.Option(help="early stop after N evaluations without gain (0: never)")] = 8,
    ema: Annotated[
        float,
        typer.Option(
            help="keep a moving average of the weights with this decay per step (e.g. 0.999), "
            "validated and saved as best.pt; 0: off (new runs)"
        ),
    ] = 0.0,
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
    from counterpoint.model.network import preset as get_preset
    from counterpoint.runtime.backend import bf16_is_fast
    from counterpoint.training.config import TrainConfig
    from counterpoint.training.loop import train as run_training

    if resume and (stored := _stored_train_config(run_dir)) is not None:
        config = TrainConfig.from_dict(stored)
        config.run_dir = str(run_dir)  # a copied run directory continues in its new place
    else:
        config = TrainConfig(
            run_dir=str(run_dir),
            model=get_preset(preset),
            crop_steps=crop,
            batch_size=batch_size,
            mask=mask,
            weight_decay=weight_decay,
            seed=seed,
            patience=patience,
            ema_decay=ema,
            bf16=bf16_is_fast(),
            init_from=str(init_from or ""),
            teacher=teacher or "",
            teacher_weight=teacher_weight,
        )
        if init_from is not None:  # the checkpoint's architecture, deepened by --layers
            config.model = load(init_from).config
        if layers is not None:
            config.model = dataclasses.replace(config.model, layers=layers)
        if kernel is not None:
            config.model = dataclasses.replace(config.model, kernel=_pairs(kernel, "--kernel")[0])
        if dilations is not None:
            config.model = dataclasses.replace(config.model, dilations=_pairs(dilations, "--dilations"))
        if dropout is not None:
            config.model = dataclasses.replace(config.model, dropout=dropout)
        if dropout_channels:
            config.model = dataclasses.replace(config.model, dropout_channels=True)
    # options given on the command line win, for a new run and a resumed one alike
    given = {
        "max_steps": steps,
        "max_minutes": minutes,
        "learning_rate": lr,
        "augment": augment,
        "max_shift": max_shift,
        "eval_every": eval_every,
        "bf16": bf16,
        "device": device,
        "data": data,
    }
    for name, value in given.items():
        if value is not None:
            setattr(config, name, value)
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


@app.command()
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


@app.command()
@user_errors
def combine(
    checkpoints: Annotated[list[Path], typer.Argument(help="two or more checkpoints of one architecture")],
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write the combined checkpoint")],
    half: Annotated[bool, typer.Option(help="store weights in half precision")] = True,
) -> None:
    """Combine trained networks into one product of experts: each note's distribution
    proportional to the geometric mean of theirs, one pass computing all of them.

    A pass costs the networks' passes together; the product predicts better than either
    where they err differently (two runs of one recipe do; docs/model.md)."""
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


@app.command()
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


# --------------------------------------------------------------------------- tasks

Checkpoint = Annotated[
    str | None,
    typer.Option(
        "--checkpoint",
        "-c",
        help="a checkpoint path or a shipped model (jsb, music21); default: the shipped jsb model",
    ),
]
Output = Annotated[Path, typer.Option("--output", "-o", help="output .mid/.musicxml/.mxl/.npy/.json")]
Sampler = Annotated[str, typer.Option(help="gibbs, independent, ancestral, confidence")]
Steps = Annotated[int | None, typer.Option("--steps", help="sampler iterations (default: the sampler's own)")]
Temperature = Annotated[float, typer.Option(help="0 = most likely notes; 1 = the model's distribution")]
AvoidParallels = Annotated[
    bool,
    typer.Option(
        "--avoid-parallels/--allow-parallels",
        help="steer the sampler away from parallel fifths and octaves (--allow-parallels: the network alone)",
    ),
]
Precision = Annotated[
    str,
    typer.Option(
        help="network arithmetic: auto (int8 where the model has an int8 file, else bfloat16 on CPUs "
        "with native bf16, else float32), float32, bfloat16 or int8"
    ),
]
Seed = Annotated[int, typer.Option(help="the same seed gives the same piece (on the same precision)")]
Tempo = Annotated[float, typer.Option(help="tempo of the written file, quarter notes per minute")]


def _sampler(method: str, steps: int | None, temperature: float, avoid_parallels: bool, precision: str):
    from counterpoint.sampling.config import SamplerConfig

    return SamplerConfig(
        method=method,
        steps=steps,
        temperature=temperature,
        avoid_parallels=avoid_parallels,
        precision=precision,
    )


def _finish(result, output: Path, tempo: float) -> None:
    from counterpoint.io import write_chorale

    for notice in result.notices:
        typer.echo(f"note: {notice}", err=True)
    write_chorale(result.chorale, output, tempo_bpm=tempo)
    typer.echo(f"wrote {output} ({len(result.chorale)} steps)")


def _check_output(output: Path) -> None:
    from counterpoint.io import suffix_of

    suffix_of(output)


@app.command()
@user_errors
def compose(
    output: Output,
    measures: Annotated[int, typer.Option(help="length in 4/4 measures")] = 4,
    checkpoint: Checkpoint = None,
    sampler: Sampler = "gibbs",
    steps: Steps = None,
    temperature: Temperature = 0.99,
    avoid_parallels: AvoidParallels = True,
    precision: Precision = "auto",
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Compose a new four-voice piece from scratch."""
    from counterpoint.model.registry import load_model
    from counterpoint.tasks import compose as run

    _check_output(output)
    config = _sampler(sampler, steps, temperature, avoid_parallels, precision)
    _finish(run(load_model(checkpoint), measures, config, seed), output, tempo)


@app.command()
@user_errors
def harmonize(
    melody: Annotated[
        Path, typer.Argument(help="a melody (.mid, .musicxml, ...) or a piece whose --voices are kept")
    ],
    output: Output,
    voices: Annotated[str, typer.Option(help="the given voice(s), e.g. soprano or soprano,bass")] = "soprano",
    checkpoint: Checkpoint = None,
    sampler: Sampler = "gibbs",
    steps: Steps = None,
    temperature: Temperature = 0.99,
    avoid_parallels: AvoidParallels = True,
    precision: Precision = "auto",
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Write the other voices under (or around) a given melody."""
    from counterpoint.errors import MultipleVoicesError
    from counterpoint.io import read_chorale, read_melody
    from counterpoint.model.registry import load_model
    from counterpoint.music.representation import parse_voices
    from counterpoint.tasks import harmonize as run

    _check_output(output)
    given = parse_voices(voices)
    try:  # a one-line file is the melody, whatever voice it is written for
        piece = read_melody(melody) if len(given) == 1 else read_chorale(melody)
    except MultipleVoicesError:  # a multi-voice file: keep its named voices
        piece = read_chorale(melody)
    config = _sampler(sampler, steps, temperature, avoid_parallels, precision)
    _finish(run(load_model(checkpoint), piece, given, config, seed), output, tempo)


@app.command()
@user_errors
def infill(
    piece: Annotated[Path, typer.Argument(help="a four-voice piece")],
    output: Output,
    from_step: Annotated[int, typer.Option("--from-step", help="first 16th step to rewrite")] = 0,
    to_step: Annotated[
        int | None, typer.Option("--to-step", help="step after the last to rewrite (default: the end)")
    ] = None,
    voices: Annotated[str, typer.Option(help="voices to rewrite")] = "soprano,alto,tenor,bass",
    checkpoint: Checkpoint = None,
    sampler: Sampler = "gibbs",
    steps: Steps = None,
    temperature: Temperature = 0.99,
    avoid_parallels: AvoidParallels = True,
    precision: Precision = "auto",
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Erase a time window of some voices and rewrite it."""
    from counterpoint.io import read_chorale
    from counterpoint.model.registry import load_model
    from counterpoint.music.representation import parse_voices
    from counterpoint.tasks import infill as run

    _check_output(output)
    chorale = read_chorale(piece)
    result = run(
        load_model(checkpoint),
        chorale,
        from_step,
        to_step,
        parse_voices(voices),
        _sampler(sampler, steps, temperature, avoid_parallels, precision),
        seed,
    )
    _finish(result, output, tempo)


@app.command()
@user_errors
def transition(
    opening: Annotated[Path, typer.Argument(help="the piece to start from")],
    closing: Annotated[Path, typer.Argument(help="the piece to arrive at")],
    output: Output,
    measures: Annotated[int, typer.Option(help="length of the bridge in measures")] = 2,
    checkpoint: Checkpoint = None,
    sampler: Sampler = "gibbs",
    steps: Steps = None,
    temperature: Temperature = 0.99,
    avoid_parallels: AvoidParallels = True,
    precision: Precision = "auto",
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Write a bridge from one fragment into another."""
    from counterpoint.io import read_chorale
    from counterpoint.model.registry import load_model
    from counterpoint.tasks import transition as run

    _check_output(output)
    result = run(
        load_model(checkpoint),
        read_chorale(opening),
        read_chorale(closing),
        measures,
        _sampler(sampler, steps, temperature, avoid_parallels, precision),
        seed,
    )
    _finish(result, output, tempo)


@app.command("continue")
@user_errors
def continue_(
    piece: Annotated[Path, typer.Argument(help="the piece to extend")],
    output: Output,
    measures: Annotated[int, typer.Option(help="measures to add")] = 2,
    checkpoint: Checkpoint = None,
    sampler: Sampler = "gibbs",
    steps: Steps = None,
    temperature: Temperature = 0.99,
    avoid_parallels: AvoidParallels = True,
    precision: Precision = "auto",
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Extend a piece by some measures."""
    from counterpoint.io import read_chorale
    from counterpoint.model.registry import load_model
    from counterpoint.tasks import continue_piece

    _check_output(output)
    result = continue_piece(
        load_model(checkpoint),
        read_chorale(piece),
        measures,
        _sampler(sampler, steps, temperature, avoid_parallels, precision),
        seed,
    )
    _finish(result, output, tempo)


# --------------------------------------------------------------------------- evaluate


@app.command()
@user_errors
def evaluate(
    data: Annotated[str, typer.Option("--data", help="JSB .npz/.json path, or 'music21'")],
    checkpoint: Checkpoint = None,
    split: Annotated[str, typer.Option(help="train, valid or test")] = "test",
    max_pieces: Annotated[
        int | None, typer.Option("--max-pieces", help="evaluate the first N pieces only")
    ] = None,
    orderings: Annotated[int, typer.Option(help="random orderings for the likelihood ensemble")] = 5,
    harmonize_pieces: Annotated[
        int | None,
        typer.Option("--harmonize-pieces", help="sopranos to harmonize (default: as --max-pieces)"),
    ] = None,
    sampler: Sampler = "gibbs",
    steps: Steps = None,
    temperature: Temperature = 0.99,
    avoid_parallels: AvoidParallels = True,
    precision: Precision = "auto",
    seed: Seed = 0,
    skip_likelihood: Annotated[bool, typer.Option("--skip-likelihood", help="only musical quality")] = False,
    skip_quality: Annotated[bool, typer.Option("--skip-quality", help="only likelihood")] = False,
    workers: Annotated[
        int, typer.Option(min=0, help="processes sharing the likelihood's pieces (0: one per CPU core)")
    ] = 0,
    device: Annotated[
        str, typer.Option(help="cpu, or cuda to score the likelihood on a GPU (harmonizing stays on the CPU)")
    ] = "cpu",
    cache: Annotated[
        Path | None,
        typer.Option(
            help="keep each piece's likelihood scores and harmonizations in this folder: run "
            "again with it to resume a stopped evaluation, or to extend one to more pieces"
        ),
    ] = None,
    report: Annotated[Path, typer.Option("--report", "-o", help="Markdown report; JSON beside it")] = Path(
        "evaluation.md"
    ),
) -> None:
    """Likelihood (the paper's protocol, exact) and musical quality, in one report."""
    import time

    from counterpoint import evaluation
    from counterpoint.data.datasets import load_dataset
    from counterpoint.io.files import write_atomically
    from counterpoint.model.registry import load_model

    model = load_model(checkpoint)
    dataset = load_dataset(data)
    pieces = dataset.split(split)[: max_pieces or None]
    results: dict = {
        "checkpoint": checkpoint or "shipped jsb model",
        "data": data,
        "split": split,
        "timing": {},
    }
    if not skip_likelihood:
        start = time.perf_counter()
        scorer = evaluation.on_device(model, device)
        results["likelihood"] = evaluation.likelihood(
            scorer,
            pieces,
            orderings=orderings,
            seed=seed,
            workers=workers or os.cpu_count() or 1,
            cache=cache,
        )
        results["masked_loss"] = evaluation.masked_loss(scorer, pieces, seed=seed)
        results["masked_loss_frames"] = evaluation.masked_loss(scorer, pieces, seed=seed, mask="frames")
        results["device"] = device
        results["timing"]["likelihood"] = time.perf_counter() - start
    if not skip_quality:
        start = time.perf_counter()
        count = harmonize_pieces if harmonize_pieces is not None else len(pieces)
        chosen = dataset.split(split)[:count]
        # with the parallel-avoiding sampler, also the network alone: what the model learned
        variants = {"model (harmonizing Bach's sopranos)": avoid_parallels}
        if avoid_parallels:
            variants["network alone (--allow-parallels)"] = False
        harmonized = {
            name: evaluation.harmonize_sopranos(
                model, chosen, _sampler(sampler, steps, temperature, avoid, precision), seed=seed, cache=cache
            )
            for name, avoid in variants.items()
        }
        results["harmonization_accuracy"] = {name: h.accuracy for name, h in harmonized.items()}
        config = _sampler(sampler, steps, temperature, avoid_parallels, precision)
        results["sampler_precision"] = config.resolve_precision(model)
        results["quality"] = evaluation.quality_table(
            {**{name: h.pieces for name, h in harmonized.items()}, "Bach": chosen}, chosen
        )
        results["timing"]["quality"] = time.perf_counter() - start
    markdown = evaluation.markdown_report(results)
    write_atomically(report, lambda temporary: temporary.write_text(markdown))
    json_path = report.with_suffix(".json")
    write_atomically(json_path, lambda temporary: temporary.write_text(evaluation.to_json(results)))
    typer.echo(markdown)
    typer.echo(f"wrote {report} and {json_path}")


# --------------------------------------------------------------------------- serve


@app.command()
@user_errors
def serve(
    host: Annotated[
        str, typer.Option(help="address to bind; 0.0.0.0 exposes it to the network")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int, typer.Option(help="worker processes, each with its own model (use one per core)")
    ] = 1,
    threads: Annotated[int, typer.Option(help="torch threads per worker")] = 1,
    checkpoint: Checkpoint = None,
    batch_window_ms: Annotated[
        float, typer.Option(help="wait this long to batch requests (0: no batching)")
    ] = 10,
    time_limit: Annotated[
        float | None, typer.Option(help="seconds a request may take (default: the server's, 180)")
    ] = None,
) -> None:
    """Serve the web app and the JSON API (http://127.0.0.1:8000, API docs at /docs)."""
    import os

    import uvicorn

    from counterpoint.model.registry import load_model

    load_model(checkpoint)  # fail now, with one line, if the model cannot be loaded
    os.environ["COUNTERPOINT_CHECKPOINT"] = checkpoint or ""
    os.environ["COUNTERPOINT_BATCH_WINDOW_MS"] = str(batch_window_ms)
    os.environ["COUNTERPOINT_BATCHING"] = "1" if batch_window_ms > 0 else "0"
    if time_limit is not None:
        os.environ["COUNTERPOINT_TIME_LIMIT_S"] = str(time_limit)
    os.environ["COUNTERPOINT_THREADS"] = str(threads)
    typer.echo(f"counterpoint: http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "counterpoint.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        limit_concurrency=256,
        timeout_keep_alive=5,
        log_level="warning",
    )
