"""The command line end to end: real files in, real files out, one-line errors."""

import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from typer.testing import CliRunner

from counterpoint.cli import app
from counterpoint.io import read_chorale, write_chorale
from counterpoint.io.midi import write_midi

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _readme_infill(piece, output):
    """The README's infill example: rewrite alto and tenor in steps 16..48."""
    return ["infill", piece, "--from-step", 16, "--to-step", 48, "--voices", "alto,tenor", "-o", output]


def test_help_on_every_command():
    for command in ["data", "convert", "train", "compose", "harmonize", "infill", "transition", "continue"]:
        result = run(command, "--help")
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_help_and_the_package_import_do_not_load_torch():
    # `counterpoint --help` answers at once: the package's names load their modules on first use
    code = (
        "import sys, counterpoint as cp; from counterpoint.cli import app; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "missing = [n for n in cp.__all__ if not hasattr(cp, n)]; "
        "assert not missing, missing; assert 'torch' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_convert_between_formats(chorale, tmp_path):
    write_chorale(chorale, tmp_path / "c.npy")
    assert run("convert", tmp_path / "c.npy", tmp_path / "c.mid").exit_code == 0
    assert run("convert", tmp_path / "c.mid", tmp_path / "c.musicxml").exit_code == 0
    assert run("convert", tmp_path / "c.musicxml", tmp_path / "c.json").exit_code == 0
    np.testing.assert_array_equal(read_chorale(tmp_path / "c.json"), chorale)


@pytest.mark.jsb
def test_data_on_the_jsb_file(jsb_path):
    result = run("data", jsb_path)
    assert result.exit_code == 0
    assert "jsb: 382 chorales" in result.output


def test_tasks_end_to_end(tiny_checkpoint, chorale, tmp_path):
    from music21 import converter

    melody = tmp_path / "melody.mid"
    only_soprano = np.full((32, 4), -1)
    only_soprano[:, 0] = chorale[:32, 0]
    write_midi(only_soprano, melody)  # empty tracks for the other voices: a melody file
    common = ["--checkpoint", tiny_checkpoint, "--passes", "4"]
    result = run("harmonize", melody, "-o", tmp_path / "out.mid", *common)
    assert result.exit_code == 0, result.output
    out = read_chorale(tmp_path / "out.mid")
    np.testing.assert_array_equal(out[:, 0], chorale[:32, 0])
    assert len(mido.MidiFile(tmp_path / "out.mid").tracks) == 5
    assert len(converter.parse(str(tmp_path / "out.mid")).parts) == 4

    result = run("compose", "--measures", 2, "-o", tmp_path / "piece.musicxml", *common)
    assert result.exit_code == 0, result.output
    assert len(converter.parse(str(tmp_path / "piece.musicxml")).parts) == 4

    bach = tmp_path / "bach.mid"
    write_midi(chorale[:64], bach)
    result = run(*_readme_infill(bach, tmp_path / "filled.mid"), *common)
    assert result.exit_code == 0, result.output
    filled = read_chorale(tmp_path / "filled.mid")
    np.testing.assert_array_equal(filled[:, [0, 3]], chorale[:64, [0, 3]])
    np.testing.assert_array_equal(filled[:16], chorale[:16])

    result = run("transition", bach, bach, "--measures", 1, "-o", tmp_path / "t.npy", *common)
    assert result.exit_code == 0 and len(np.load(tmp_path / "t.npy")) == 64 + 16 + 64
    result = run("continue", bach, "--measures", 1, "-o", tmp_path / "c.json", *common)
    assert result.exit_code == 0 and len(read_chorale(tmp_path / "c.json")) == 80


@pytest.mark.parametrize(
    "args, message",
    [
        (["convert", "missing.mid", "out.mid"], "missing.mid: no such file"),
        (["convert", "{tmp}/bad.mid", "out.mid"], "not a readable MIDI file"),
        (["convert", "{tmp}/bad.mid", "out.txt"], "unknown file type '.txt'"),
        (["harmonize", "{tmp}/bad.mid", "-o", "{tmp}/o.mid", "--voices", "viola"], "unknown voice 'viola'"),
        (["compose", "-o", "{tmp}/o.mid", "--checkpoint", "{tmp}/bad.mid"], "not a counterpoint checkpoint"),
        (["train", "--data", "{tmp}/nothing.npz", "--preset", "tiny"], "no such file"),
        (["train", "--preset", "giant"], "unknown preset 'giant'"),
        (["train", "--preset", "tiny", "--dilations", "1x1,2x0"], "--dilations '1x1,2x0': expected"),
        (["train", "--preset", "tiny", "--kernel", "5by3"], "--kernel '5by3': expected"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "bad.mid").write_bytes(b"MThd garbage")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = subprocess.run(
        [sys.executable, "-m", "counterpoint", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def _train_tiny(chorale, run_dir, **settings) -> None:
    """A 4-step run of the tiny network on one short piece, into ``run_dir``."""
    from counterpoint.data.datasets import Dataset
    from counterpoint.model.network import preset
    from counterpoint.training.config import TrainConfig
    from counterpoint.training.loop import train

    piece = chorale[:32]
    config = TrainConfig(
        run_dir=str(run_dir),
        model=preset("tiny"),
        crop_steps=16,
        batch_size=4,
        max_steps=4,
        eval_every=2,
        progress=False,
        **settings,
    )
    train(config, dataset=Dataset("one", [piece], [piece], [piece]))


def test_export_strips_and_halves_a_training_checkpoint(chorale, tmp_path):
    import torch

    from counterpoint.model.checkpoint import load
    from counterpoint.model.network import preset

    _train_tiny(chorale, tmp_path / "run")
    result = run("export", tmp_path / "run" / "best.pt", tmp_path / "ship.pt")
    assert result.exit_code == 0, result.output
    shipped = torch.load(tmp_path / "ship.pt", weights_only=True)
    assert "optimizer" not in shipped and shipped["step"] > 0
    assert all(v.dtype == torch.float16 for v in shipped["state"].values() if v.is_floating_point())
    assert load(tmp_path / "ship.pt").config == preset("tiny")


def test_export_takes_the_moving_average_from_last_pt(chorale, tmp_path):
    """A run's last.pt keeps raw weights and their moving average: export ships the average
    (what training validated) unless --raw."""
    import torch

    from counterpoint.model.checkpoint import load

    _train_tiny(chorale, tmp_path / "run", ema_decay=0.5)
    last = tmp_path / "run" / "last.pt"
    average = run("export", last, tmp_path / "average.pt", "--no-half")
    assert average.exit_code == 0 and "moving average" in average.output, average.output
    raw = run("export", last, tmp_path / "raw.pt", "--no-half", "--raw")
    assert raw.exit_code == 0 and "moving average" not in raw.output, raw.output
    payload = torch.load(last, weights_only=True)
    for path, expected in ((tmp_path / "average.pt", payload["ema"]), (tmp_path / "raw.pt", None)):
        state = load(path).state_dict()
        for name, value in state.items():
            want = payload["state"][name] if expected is None else expected["module." + name]
            assert torch.equal(value, want), (path.name, name)
    # the average really differs from the raw weights, so the check above can fail
    assert not all(torch.equal(payload["state"][k], payload["ema"]["module." + k]) for k in payload["state"])


def test_combine_writes_a_product_that_samples(chorale, tmp_path):
    import torch

    from counterpoint.model.checkpoint import load

    _train_tiny(chorale, tmp_path / "run")
    best = tmp_path / "run" / "best.pt"
    result = run("combine", best, tmp_path / "run" / "last.pt", "-o", tmp_path / "product.pt")
    assert result.exit_code == 0 and "2 networks" in result.output, result.output
    product = load(tmp_path / "product.pt")
    assert product.config.members == 2
    payload = torch.load(tmp_path / "product.pt", weights_only=True)
    assert [member["step"] > 0 for member in payload["members"]] == [True, True]
    out = tmp_path / "piece.mid"
    composed = run("compose", "--checkpoint", tmp_path / "product.pt", "--measures", "1", "-o", out)
    assert composed.exit_code == 0 and out.stat().st_size > 0, composed.output
    alone = run("combine", best, "-o", tmp_path / "one.pt")
    assert alone.exit_code == 2 and "at least two" in alone.output and "Traceback" not in alone.output


def test_readme_examples_with_the_shipped_model(tmp_path):
    """The quick start's commands, as a user types them, with the model inside the package."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    result = run("harmonize", examples / "melody.mid", "-o", tmp_path / "out.mid")
    assert result.exit_code == 0, result.output
    out = read_chorale(tmp_path / "out.mid")
    np.testing.assert_array_equal(out[:, 0], read_chorale(examples / "melody.mid")[:, 0])
    assert (out[:, 1:] != -1).all()
    result = run(*_readme_infill(examples / "bach.mid", tmp_path / "filled.mid"), "--passes", 16)
    assert result.exit_code == 0, result.output


def test_train_then_resume_with_changed_settings(bach_path, tmp_path, tiny_checkpoint):
    import json
    import shutil

    run_dir = tmp_path / "run"
    first = ["train", "--data", bach_path, "--preset", "tiny", "--run-dir", run_dir, "--steps", 4]
    channel_dropout = ["--dropout", 0.2, "--dropout-channels"]
    shape = ["--kernel", "5x3", "--dilations", "1x1,2x2"]
    recipe = ["--weight-decay", 0.05, "--mask", "orderless+continuation", "--teacher", tiny_checkpoint]
    small = ["--eval-every", 2, "--batch-size", 2, "--crop", 16]
    result = run(*first, *small, *channel_dropout, *shape, *recipe)
    assert result.exit_code == 0, result.output
    config = json.loads((run_dir / "config.json").read_text())
    assert config["augment"] is True
    assert config["weight_decay"] == 0.05 and config["mask"] == "orderless+continuation"
    assert config["teacher"] == str(tiny_checkpoint) and config["teacher_weight"] == 0.5
    assert config["model"]["dropout"] == 0.2 and config["model"]["dropout_channels"] is True
    assert config["model"]["kernel"] == [5, 3] and config["model"]["dilations"] == [[1, 1], [2, 2]]
    moved = tmp_path / "moved" / Path(bach_path).name  # the same chorales, elsewhere (another machine)
    moved.parent.mkdir()
    shutil.copy(bach_path, moved)
    resumed = ["train", "--run-dir", run_dir, "--resume", "--data", moved, "--device", "cpu"]
    result = run(*resumed, "--steps", 6, "--no-augment", "--lr", 1e-3)
    assert result.exit_code == 0, result.output
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"] == str(moved) and config["device"] == "cpu"
    assert config["augment"] is False and config["learning_rate"] == 1e-3
    assert config["max_steps"] == 6 and config["eval_every"] == 2 and config["batch_size"] == 2
    assert (run_dir / "log.csv").read_text().splitlines()[-1].startswith("6,")
    # a run kept in git as its one file, last.pt, resumes from it alone with the same settings
    for name in ("config.json", "log.csv", "best.pt"):
        (run_dir / name).unlink()
    result = run("train", "--run-dir", run_dir, "--resume", "--steps", 8)
    assert result.exit_code == 0, result.output
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"] == str(moved) and config["weight_decay"] == 0.05 and config["max_steps"] == 8
    assert (run_dir / "log.csv").read_text().splitlines()[-1].startswith("8,")


def test_an_output_that_cannot_be_written_is_one_line(tiny_checkpoint):
    result = run("compose", "-o", "/proc/no-such-folder/x.mid", "-c", tiny_checkpoint, "--measures", 1)
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_steps_is_a_deprecated_name_for_passes(tmp_path, tiny_checkpoint):
    """--steps (a step is a 16th note everywhere else) still sets the Gibbs passes, with a
    warning; the piece is the one --passes writes."""
    common = ["compose", "--measures", 1, "--checkpoint", tiny_checkpoint, "--precision", "float32"]
    new = run(*common, "--passes", 3, "-o", tmp_path / "new.npy")
    old = run(*common, "--steps", 3, "-o", tmp_path / "old.npy")
    assert new.exit_code == 0 and old.exit_code == 0, old.output
    assert "--steps is deprecated" in old.output and "warning" not in new.output
    np.testing.assert_array_equal(np.load(tmp_path / "old.npy"), np.load(tmp_path / "new.npy"))
    other = run(*common, "--passes", 0, "-o", tmp_path / "zero.npy")
    assert other.exit_code == 0
    assert not (np.load(tmp_path / "zero.npy") == np.load(tmp_path / "new.npy")).all()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_serve_starts_one_worker_per_core(tiny_checkpoint):
    """Without --workers the server fills the machine: a worker samples on one core."""
    import os

    from servers import running_server

    cores = len(os.sched_getaffinity(0))
    with running_server(tiny_checkpoint, workers=None) as server:
        pid = server.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        started = [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(started) == (cores if cores > 1 else 0)  # one worker runs in-process
    said = server.process.stdout.read().decode()
    assert f"{cores} worker" in said
