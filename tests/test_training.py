import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from counterpoint.data.batches import pianoroll_batch
from counterpoint.data.datasets import Dataset
from counterpoint.errors import ConfigError
from counterpoint.model.checkpoint import load, save
from counterpoint.model.network import Coconet, preset
from counterpoint.training.batches import make_batch, run_validation_set, validation_set
from counterpoint.training.config import TrainConfig
from counterpoint.training.loop import make_optimizer, train
from counterpoint.training.objective import (
    evaluate_loss,
    forward,
    masked_cross_entropy,
    masked_nll,
    step_loss,
)


def test_loss_counts_only_erased_notes():
    torch.manual_seed(0)
    roll = pianoroll_batch(np.full((1, 4, 4), 60), preset("tiny").pitch_range)
    logits = torch.randn(1, 4, 4, 46)
    known = torch.zeros(1, 4, 4, dtype=torch.bool)
    known[0, :, :2] = True
    base = masked_nll(logits, roll, known)
    # changing the logits of known notes changes nothing
    changed = logits.clone()
    changed[0, :, :2] += torch.randn(4, 2, 46) * 5
    torch.testing.assert_close(masked_nll(changed, roll, known), base)
    # changing an erased note's logits does
    changed[0, 0, 3, 60 - 36] += 3  # the target pitch of an erased note
    assert not torch.allclose(masked_nll(changed, roll, known), base)


def test_loss_is_rescaled_mean_over_erased_notes():
    roll = pianoroll_batch(np.full((2, 8, 4), 60), preset("tiny").pitch_range)
    logits = torch.zeros(2, 4, 8, 46)  # uniform: every note costs log(46)
    known = torch.ones(2, 4, 8, dtype=torch.bool)
    known[0, 0, 0] = False  # 1 erased note
    known[1] = False  # all 32 erased
    loss = masked_nll(logits, roll, known)
    # sum over erased x (notes / erased) / notes == log 46 for both mask sizes
    torch.testing.assert_close(loss, torch.full((2,), float(np.log(46))))
    # silent targets carry no loss
    roll[1, :, 4:] = 0
    torch.testing.assert_close(masked_nll(logits, roll, known), torch.full((2,), float(np.log(46))))


def test_distillation_loss_scores_the_same_notes_against_the_teacher():
    torch.manual_seed(0)
    roll = pianoroll_batch(np.full((2, 8, 4), 60), preset("tiny").pitch_range)
    roll[1, :, 4:] = 0  # silent: scored by neither loss
    known = torch.rand(2, 4, 8) < 0.5
    logits = torch.randn(2, 4, 8, 46, requires_grad=True)
    # Bach's one-hot notes as targets: the NLL itself
    torch.testing.assert_close(
        masked_cross_entropy(logits, roll, roll, known), masked_nll(logits, roll, known)
    )
    assert (
        step_loss(logits, roll, known, torch.randn(2, 4, 8, 46), 0.0)
        == masked_nll(logits, roll, known).mean()
    )
    # all weight on a teacher: Bach's pitches no longer matter, only which notes sound
    teacher = torch.randn(2, 4, 8, 46)
    other = roll.roll(3, dims=-1)  # every note moved up 3 semitones
    taught = step_loss(logits, roll, known, teacher, 1.0)
    torch.testing.assert_close(step_loss(logits, other, known, teacher, 1.0), taught)
    assert not torch.allclose(
        step_loss(logits, other, known, teacher, 0.5), step_loss(logits, roll, known, teacher, 0.5)
    )
    # the student that matches its teacher is where the loss is least: no gradient there
    student = teacher.clone().requires_grad_(True)
    step_loss(student, roll, known, teacher, 1.0).backward()
    assert student.grad.abs().max() < 1e-6
    step_loss(student + 0.5 * torch.randn_like(student), roll, known, teacher, 1.0).backward()
    assert student.grad.abs().max() > 1e-3


def test_a_run_learns_its_teachers_distributions(chorale, tmp_path, tiny_checkpoint):
    dataset = _one_piece(chorale)
    common = _tiny_run(max_steps=60, learning_rate=1e-2, warmup_steps=5, augment=False)
    train(TrainConfig(run_dir=str(tmp_path / "plain"), **common), dataset=dataset)
    taught = TrainConfig(
        run_dir=str(tmp_path / "taught"), teacher=str(tiny_checkpoint), teacher_weight=1.0, **common
    )
    train(taught, dataset=dataset)
    teacher = load(tiny_checkpoint).eval()
    pianoroll, known = run_validation_set(TrainConfig(**common), dataset)

    def distance_to_teacher(run: str) -> float:
        student = load(tmp_path / run / "last.pt").eval()
        with torch.no_grad():
            ours = forward(student, pianoroll, known)
            theirs = torch.softmax(forward(teacher, pianoroll, known), dim=-1)
        return float(masked_cross_entropy(ours, theirs, pianoroll, known).mean())

    # trained on the teacher's distributions alone, the run comes far closer to them than one
    # trained on Bach's notes (the tiny teacher is untrained: its distributions are not Bach's)
    assert distance_to_teacher("taught") < distance_to_teacher("plain") - 0.5
    assert json.loads((tmp_path / "taught" / "config.json").read_text())["teacher"] == str(tiny_checkpoint)
    # a resumed run learns from the same teacher or not at all
    torch.manual_seed(1)
    save(tiny_checkpoint, Coconet(preset("tiny")))
    resumed = TrainConfig.from_dict(json.loads((tmp_path / "taught" / "config.json").read_text()))
    resumed.max_steps = 61
    with pytest.raises(ConfigError, match="not the teacher this run started with"):
        train(resumed, resume=True, dataset=dataset)
    with pytest.raises(ConfigError, match="from 0 to 1"):
        train(
            TrainConfig(run_dir=str(tmp_path / "x"), teacher="jsb", teacher_weight=2.0, **common),
            dataset=dataset,
        )


def _tiny_run(**overrides) -> dict:
    """TrainConfig arguments for a 20-step run of the tiny network on 16-step crops."""
    settings = dict(
        model=preset("tiny"),
        crop_steps=16,
        batch_size=4,
        max_steps=20,
        eval_every=10,
        progress=False,
        patience=0,
    )
    return {**settings, **overrides}


def _one_piece(chorale):
    piece = chorale[:32]
    return Dataset("one", train=[piece], valid=[piece], test=[piece])


def test_tiny_model_overfits_one_chorale(chorale, tmp_path):
    dataset = _one_piece(chorale)
    config = TrainConfig(
        run_dir=str(tmp_path),
        model=preset("tiny"),
        crop_steps=32,
        batch_size=8,
        learning_rate=1e-2,
        warmup_steps=10,
        max_steps=300,
        eval_every=100,
        augment=False,
        patience=0,
        progress=False,
        channels_last=False,
    )
    summary = train(config, dataset=dataset)
    # uniform guessing costs log(46) = 3.83 nats per note
    assert summary["best_valid_loss"] < 0.7


def test_time_limit_validates_the_last_weights(chorale, tmp_path):
    config = TrainConfig(
        run_dir=str(tmp_path),
        model=preset("tiny"),
        crop_steps=16,
        batch_size=4,
        max_steps=10**6,
        max_minutes=0.02,
        eval_every=10**6,  # never by the step count: only the time limit triggers it
        progress=False,
        patience=0,
    )
    summary = train(config, dataset=_one_piece(chorale))
    assert summary["stopped"] == "time_limit"
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].split(",")[0] == str(summary["steps"])
    assert (tmp_path / "best.pt").exists()


def test_resume_continues_exactly(chorale, tmp_path):
    dataset = _one_piece(chorale)
    common = _tiny_run()
    straight = TrainConfig(run_dir=str(tmp_path / "a"), **common)
    train(straight, dataset=dataset)
    split = TrainConfig(run_dir=str(tmp_path / "b"), **{**common, "max_steps": 10})
    train(split, dataset=dataset)
    split.max_steps = 20
    train(split, resume=True, dataset=dataset)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["state"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["state"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_a_new_run_can_grow_from_a_checkpoint(chorale, tmp_path):
    dataset = _one_piece(chorale)
    common = dict(crop_steps=16, batch_size=4, eval_every=10, progress=False, patience=0)
    train(
        TrainConfig(run_dir=str(tmp_path / "small"), model=preset("tiny"), max_steps=10, **common),
        dataset=dataset,
    )
    small = load(tmp_path / "small" / "last.pt")
    deeper = preset("tiny")
    deeper.layers = 6
    deeper.dropout = 0.2  # a grown network may also regularise: dropout has no weights
    config = TrainConfig(
        run_dir=str(tmp_path / "grown"),
        model=deeper,
        max_steps=1,
        learning_rate=0.0,  # one step that changes nothing: the start is the small network
        init_from=str(tmp_path / "small" / "last.pt"),
        **common,
    )
    train(config, dataset=dataset)
    grown = load(tmp_path / "grown" / "last.pt")
    assert grown.config.layers == 6 and grown.config.dropout == 0.2
    torch.testing.assert_close(grown.hidden[1].conv.weight, small.hidden[1].conv.weight, rtol=0, atol=0)
    # other dilations: the same kernels, further apart
    dilated = preset("tiny")
    dilated.dilations = [(1, 1), (2, 2)]
    config.run_dir, config.model = str(tmp_path / "dilated"), dilated
    train(config, dataset=dataset)
    moved = load(tmp_path / "dilated" / "last.pt")
    assert moved.config.dilations == [(1, 1), (2, 2)] and moved.hidden[1].conv.dilation == (2, 2)
    torch.testing.assert_close(moved.hidden[1].conv.weight, small.hidden[1].conv.weight, rtol=0, atol=0)
    wider = preset("tiny")
    wider.filters = 32
    with pytest.raises(ConfigError, match="more than depth"):
        train(
            TrainConfig(run_dir=str(tmp_path / "x"), model=wider, init_from=config.init_from, **common),
            dataset=dataset,
        )


def test_weight_decay_shrinks_the_kernels_alone():
    model = Coconet(preset("tiny"))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = make_optimizer(model, TrainConfig(learning_rate=0.1, weight_decay=0.5))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no gradient: only the decay moves a weight
    optimizer.step()
    for name, p in model.named_parameters():
        expected = before[name] * (1 - 0.1 * 0.5) if p.ndim > 1 else before[name]
        torch.testing.assert_close(p.detach(), expected, msg=name)
    assert isinstance(make_optimizer(model, TrainConfig()), torch.optim.Adam)  # no decay: Adam


def test_batches_are_a_function_of_the_step(chorale):
    config = TrainConfig(model=preset("tiny"), crop_steps=16, batch_size=3)
    first = make_batch([chorale], config, rank=0, step=5)
    again = make_batch([chorale], config, rank=0, step=5)
    other = make_batch([chorale], config, rank=1, step=5)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[1], other[1])


def test_validation_set_is_fixed(bach):
    a = validation_set(bach.valid, 64, 32, 0, preset("tiny").pitch_range)
    b = validation_set(bach.valid, 64, 32, 0, preset("tiny").pitch_range)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    model = Coconet(preset("tiny"))
    assert np.isfinite(evaluate_loss(model, *a))


def test_a_run_is_validated_with_its_own_masks(bach):
    frames = validation_set(bach.valid, 64, 32, 0, preset("tiny").pitch_range, mask="frames")[1]
    voices_known = frames.sum(1)
    assert (((voices_known > 0) & (voices_known < 4)).sum(1) <= 1).all()  # whole steps erased


def _torchrun_two_ranks(worker: Path, *args: str) -> subprocess.CompletedProcess:
    """``torchrun --standalone`` (a free port, so no clash with another run on this machine) with
    two processes, each rank's output kept in its own log for the assertion's message."""
    logs = Path(args[-1]) / "logs"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command += ["--log-dir", str(logs), "--redirects", "3", "--tee", "3", str(worker), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def test_torchrun_two_processes_end_with_identical_weights(bach_path, tmp_path):
    worker = Path(__file__).parent / "ddp_worker.py"
    result = _torchrun_two_ranks(worker, str(bach_path), str(tmp_path))
    if result.returncode != 0 and "Signal" in result.stderr:
        # a rank killed by a signal (seen once in CI: SIGABRT inside Gloo) is the
        # library's, not training's: one more try; a second failure fails the test
        result = _torchrun_two_ranks(worker, str(bach_path), str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    weights = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for key in weights[0]:
        torch.testing.assert_close(weights[0][key], weights[1][key], rtol=0, atol=0, msg=key)
    # and training moved them: rank 0's checkpoint is the trained model
    model = load(tmp_path / "run" / "last.pt")
    assert model.config == preset("tiny")


def test_sigterm_stops_cleanly_and_keeps_the_checkpoint(bach_path, tmp_path):
    import signal
    import time

    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "counterpoint",
            "train",
            "--data",
            str(bach_path),
            "--preset",
            "tiny",
            "--run-dir",
            str(run_dir),
            "--steps",
            "100000",
            "--eval-every",
            "50",
            "--patience",
            "0",
            "--no-bf16",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 120
    while not (run_dir / "best.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-2000:]
    assert "stopped (interrupted)" in output
    step = torch.load(run_dir / "last.pt", weights_only=True)["step"]
    assert step >= 50


def test_moving_average_is_validated_kept_as_best_and_resumed(chorale, tmp_path):
    dataset = _one_piece(chorale)
    common = _tiny_run(eval_every=20, ema_decay=0.9)
    train(TrainConfig(run_dir=str(tmp_path / "a"), **common), dataset=dataset)
    last = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    best = torch.load(tmp_path / "a" / "best.pt", weights_only=True)
    averaged = {key.removeprefix("module."): value for key, value in last["ema"].items()}
    weight = "hidden.1.conv.weight"
    # best.pt holds the average (validated at step 20), not the last step's weights
    torch.testing.assert_close(best["state"][weight], averaged[weight], rtol=0, atol=0)
    assert not torch.equal(best["state"][weight], last["state"][weight])
    # and a resumed run continues the same average
    split = TrainConfig(run_dir=str(tmp_path / "b"), **{**common, "max_steps": 10, "eval_every": 10})
    train(split, dataset=dataset)
    split.max_steps = 20
    train(split, resume=True, dataset=dataset)
    resumed = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["ema"]
    for key in last["ema"]:
        torch.testing.assert_close(resumed[key], last["ema"][key], rtol=0, atol=0, msg=key)


def test_the_jsb_recipe_is_the_shipped_networks_recipe():
    """``--recipe jsb`` is what scripts/train-jsb.sh spelled out before: the jsb preset (the
    default preset grown to 20 layers dilated in time and pitch, with channel dropout), 128-step
    crops at batch 10 without transposition, orderless and frame masks, Adam at 1e-3 over 18,000
    steps, a moving average of 0.999, validation every 500 steps, no early stop. Options win."""
    import dataclasses

    from counterpoint.training.config import new_config

    spelled_out = TrainConfig(
        model=dataclasses.replace(
            preset("default"), layers=20, dilations=[(1, 1), (2, 2), (4, 4), (8, 8)], dropout=0.15,
            dropout_channels=True,
        ),
        crop_steps=128, batch_size=10, mask="orderless+frames", patience=0, ema_decay=0.999, max_steps=18000,
        learning_rate=1e-3, augment=False, eval_every=500,
    )  # fmt: skip
    assert new_config("jsb").to_dict() == spelled_out.to_dict()
    changed = new_config("jsb", weight_decay=0.1, layers=4, batch_size=None)
    assert (changed.weight_decay, changed.model.layers, changed.batch_size) == (0.1, 4, 10)
    assert new_config().to_dict() == TrainConfig().to_dict()


def test_the_jsb_preset_is_the_shipped_architecture():
    from counterpoint.model.checkpoint import read_checkpoint
    from counterpoint.model.registry import WEIGHTS_DIR

    shipped = read_checkpoint(WEIGHTS_DIR / "jsb.pt")["config"]
    assert {**preset("jsb").to_dict(), "members": shipped["members"]} == shipped
    assert preset("default") == preset("pitch16")
