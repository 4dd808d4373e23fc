import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from counterpoint import evaluation
from counterpoint.evaluation import (
    conditional_log_probs,
    draw_ordering,
    histogram_distances,
    likelihood,
    magenta_frame_log_probs,
    predict,
    scoring,
)
from counterpoint.model.network import Coconet, ModelConfig, make_input
from counterpoint.music.representation import SILENCE, to_pianoroll
from counterpoint.music.rules import voice_leading_faults


def _piece(rows):
    """A chorale from rows of (s, a, t, b), each row held for one step."""
    return np.array(rows, dtype=np.int64)


def test_windowed_likelihood_equals_full_piece(chorale):
    torch.manual_seed(0)
    model = Coconet(ModelConfig(6, 8, dilations=[(1, 1), (2, 2)])).eval()
    assert model.receptive_field() == 2 + 1 + 2 + 1 + 2  # input, 4 hidden (dilations 1,2,1,2), output
    # 48 steps: windows of 17; 12 steps: no longer than a window, so passed whole
    for piece in (chorale[:48], chorale[:12]):
        for kind in ("random", "chronological"):
            order = draw_ordering(piece, kind, np.random.default_rng(1))
            windowed = conditional_log_probs(model, piece, order, window=True, batch_size=13)
            full = conditional_log_probs(model, piece, order, window=False)
            np.testing.assert_allclose(windowed, full, atol=1e-5)


def _magenta_one_note_at_a_time(model, piece, order):
    """Magenta's FrameEvaluator written the slow, obvious way: one note at a time on the whole
    piece, earlier steps true, earlier voices of the note's own step the model's argmax."""
    roll = torch.from_numpy(to_pianoroll(piece))
    known = torch.from_numpy(piece.T == SILENCE)  # rests are given
    guessed = roll.clone()
    result = []
    for index, (voice, step) in enumerate(order):
        if index == 0 or order[index - 1, 1] != step:  # a new step: reveal the previous one's truth
            known[:, order[:index, 1]] = True
            guessed = roll.clone()
        with torch.no_grad():
            logits = model(make_input(guessed[None], known[None]))[0, voice, step]
        log_probs = torch.log_softmax(logits, -1)
        result.append(float(log_probs[roll[voice, step].argmax()]))
        guessed[voice, step] = torch.nn.functional.one_hot(log_probs.argmax(), roll.shape[2]).float()
        known[voice, step] = True
    return np.array(result)


def test_paper_protocol_conditions_a_step_on_the_models_own_guesses(chorale):
    torch.manual_seed(0)
    model = Coconet(ModelConfig(6, 8, dilations=[(1, 1), (2, 2)])).eval()
    piece = chorale[:24].copy()
    piece[5, 2] = SILENCE  # a rest: given, not scored
    order = draw_ordering(piece, "random", np.random.default_rng(3))
    expected = _magenta_one_note_at_a_time(model, piece, order)
    result = magenta_frame_log_probs(model, piece, order, batch_size=7)
    np.testing.assert_allclose(result, expected, atol=1e-5)
    exact = conditional_log_probs(model, piece, order)
    first = np.r_[True, order[1:, 1] != order[:-1, 1]]
    np.testing.assert_allclose(result[first], exact[first], atol=1e-5)  # a step's first voice: exact
    assert not np.allclose(result[~first], exact[~first], atol=1e-3)  # the others: guesses differ


class _Peeking(Coconet):
    """A network that is told the true notes of the even steps, so that its guesses there are
    right and the paper's protocol reuses the exact conditionals; elsewhere it guesses."""

    def __init__(self, config, piece):
        super().__init__(config)
        truth = torch.from_numpy(to_pianoroll(piece))[None]
        truth[:, :, 1::2] = 0
        self.register_buffer("truth", truth)

    def forward(self, x):
        return super().forward(x) + 30 * self.truth


def test_paper_protocol_reuses_exact_conditionals_only_where_the_guesses_were_right(chorale):
    torch.manual_seed(0)
    piece = chorale[:24]
    model = _Peeking(ModelConfig(6, 8, dilations=[(1, 1), (2, 2)]), piece).eval()
    order = draw_ordering(piece, "random", np.random.default_rng(3))
    expected = _magenta_one_note_at_a_time(model, piece, order)
    scored = scoring._score_piece(model, piece, [order], window=False, temperature=1.0, chronological=False)
    per_step = np.zeros(len(piece))
    np.add.at(per_step, order[:, 1], expected)
    np.testing.assert_allclose(scored["paper_frames"][0], per_step, atol=1e-4)
    exact = conditional_log_probs(model, piece, order, window=False)
    later = np.r_[False, order[1:, 1] == order[:-1, 1]]  # not a step's first voice
    even = order[:, 1] % 2 == 0
    np.testing.assert_allclose(expected[later & even], exact[later & even], atol=1e-5)  # reused
    assert not np.allclose(expected[later & ~even], exact[later & ~even], atol=1e-3)  # computed


def test_uniform_model_costs_log_pitches_per_note(chorale):
    model = Coconet(ModelConfig(4, 8)).eval()
    torch.nn.init.zeros_(model.output.weight)
    torch.nn.init.zeros_(model.output.bias)
    result = likelihood(model, [chorale[:32], chorale[32:64]], orderings=2, progress=False)
    assert result["random"]["notewise"] == pytest.approx(np.log(46), rel=1e-5)
    assert result["chronological"]["framewise"] == pytest.approx(4 * np.log(46), rel=1e-5)
    assert result["ensemble"]["notewise"] == pytest.approx(np.log(46), rel=1e-5)
    assert result["paper_protocol"]["framewise"] == pytest.approx(4 * np.log(46), rel=1e-5)


def test_temperature_rescales_the_logits(chorale):
    torch.manual_seed(0)
    model = Coconet(ModelConfig(4, 8)).eval()
    with torch.no_grad():
        model.output.weight.mul_(100)  # far from uniform
    pieces = [chorale[:32]]
    as_trained = likelihood(model, pieces, orderings=2, progress=False)
    assert likelihood(model, pieces, orderings=2, progress=False, temperature=1.0) == as_trained
    # a huge temperature flattens every conditional to uniform over the 46 pitches
    flat = likelihood(model, pieces, orderings=2, progress=False, temperature=1e9, chronological=False)
    assert "chronological" not in flat
    assert flat["random"]["notewise"] == pytest.approx(np.log(46), rel=1e-5)
    assert as_trained["random"]["notewise"] > np.log(46) + 1


def test_worker_processes_give_the_same_figures(chorale):
    torch.manual_seed(0)
    model = Coconet(ModelConfig(4, 8)).eval()
    with torch.no_grad():
        model.output.weight.mul_(100)  # far from uniform, so a wrong ordering would show
    pieces = [chorale[:24], chorale[24:40], chorale[40:64]]
    serial = likelihood(model, pieces, orderings=2, progress=False)
    shared = likelihood(model, pieces, orderings=2, progress=False, workers=2)
    assert shared.keys() == serial.keys()
    for key in ("chronological", "random", "ensemble", "ensemble_per_frame", "paper_protocol"):
        for name, value in serial[key].items():
            assert shared[key][name] == pytest.approx(value, rel=1e-6), (key, name)


_KILLED_PARENT = """
import sys
import numpy as np
import torch
from counterpoint.evaluation import likelihood
from counterpoint.model.network import Coconet, ModelConfig

torch.manual_seed(0)
piece = np.load(sys.argv[1])
likelihood(Coconet(ModelConfig(4, 8)).eval(), [piece] * 200, orderings=5, progress=False, workers=2)
"""


def _workers_of(pid: int) -> list[int]:
    """The pool workers (spawned processes) among the children of ``pid``."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if "spawn_main" in _command_line(int(c))]


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_workers_stop_when_their_parent_is_killed(chorale, tmp_path):
    piece = tmp_path / "piece.npy"
    np.save(piece, chorale[:64])
    parent = subprocess.Popen([sys.executable, "-c", _KILLED_PARENT, str(piece)])
    try:
        deadline = time.monotonic() + 60
        while len(workers := _workers_of(parent.pid)) < 2 and time.monotonic() < deadline:
            assert parent.poll() is None, "the evaluation ended before it could be killed"
            time.sleep(0.2)
        assert len(workers) == 2
        time.sleep(5)  # the workers are scoring by now (or, on a slow machine, starting)
    finally:
        parent.kill()  # SIGKILL: no chance to stop its pool
        parent.wait()
    deadline = time.monotonic() + 10
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    orphans = [w for w in workers if _running(w)]
    for orphan in orphans:  # leave no process behind, even when the test fails
        os.kill(orphan, signal.SIGKILL)
    assert not orphans, "orphaned workers lived on"


def test_a_stopped_evaluation_gives_the_pieces_it_finished(chorale, tmp_path):
    from counterpoint.evaluation import cached_scores, paper_protocol_losses

    torch.manual_seed(0)
    model = Coconet(ModelConfig(4, 8)).eval()
    pieces = [chorale[:24], chorale[24:40], chorale[40:64]]
    cache = tmp_path / "cache"
    assert cached_scores(model, pieces, cache, orderings=2) == [None, None, None]
    finished = likelihood(model, pieces[:2], orderings=2, progress=False, cache=cache)
    scores = cached_scores(model, pieces, cache, orderings=2)
    assert scores[0] is not None and scores[1] is not None and scores[2] is None
    losses = np.concatenate([paper_protocol_losses(piece) for piece in scores[:2]])
    assert len(losses) == 40
    assert losses.mean() == pytest.approx(finished["paper_protocol"]["framewise"], rel=1e-9)
    # other settings are other scores
    assert cached_scores(model, pieces, cache, orderings=3)[0] is None


def _count_pieces(monkeypatch, module, name: str) -> list[int]:
    """Wrap ``module.name(model, chorale, ...)``: the list it returns gets the length of every
    chorale the function is then called with (what a cache did not spare)."""
    calls: list[int] = []
    real = getattr(module, name)

    def counting(model, chorale, *args, **kwargs):
        calls.append(len(chorale))
        return real(model, chorale, *args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def test_a_cached_evaluation_resumes_and_reuses_pieces(chorale, tmp_path, monkeypatch):

    torch.manual_seed(0)
    model = Coconet(ModelConfig(4, 8)).eval()
    with torch.no_grad():
        model.output.weight.mul_(100)
    pieces = [chorale[:24], chorale[24:40], chorale[40:64]]
    plain = likelihood(model, pieces, orderings=2, progress=False)

    # a run over the first two pieces keeps their scores; the full run then scores only the third
    cache = tmp_path / "cache"
    likelihood(model, pieces[:2], orderings=2, progress=False, cache=cache)
    assert len(list(cache.glob("piece-*.npz"))) == 2
    scored = _count_pieces(monkeypatch, scoring, "_score_piece")  # lengths of the pieces scored
    resumed = likelihood(model, pieces, orderings=2, progress=False, cache=cache)
    assert scored == [24]  # pieces[2] only
    assert len(list(cache.glob("piece-*.npz"))) == 3
    for key in ("chronological", "random", "ensemble", "ensemble_per_frame", "paper_protocol"):
        for name, value in plain[key].items():
            assert resumed[key][name] == pytest.approx(value, rel=1e-9), (key, name)

    # other settings or other weights never reuse these scores
    likelihood(model, pieces[:1], orderings=2, progress=False, cache=cache, temperature=2.0)
    with torch.no_grad():
        model.output.bias.add_(0.1)
    likelihood(model, pieces[:1], orderings=2, progress=False, cache=cache)
    assert len(scored) == 3 and len(list(cache.glob("piece-*.npz"))) == 5

    # an unreadable file is scored again, not trusted
    for path in cache.glob("piece-*.npz"):
        path.write_bytes(b"not an archive")
    likelihood(model, pieces[:1], orderings=2, progress=False, cache=cache)
    assert len(scored) == 4


def test_cached_harmonizations_resume_and_depend_on_every_setting(chorale, tmp_path, monkeypatch):
    from counterpoint import tasks
    from counterpoint.sampling.config import SamplerConfig

    torch.manual_seed(0)
    model = Coconet(ModelConfig(4, 8)).eval()
    pieces = [chorale[:16], chorale[16:32]]
    sampler = SamplerConfig(passes=3, precision="float32")
    cache = tmp_path / "cache"
    evaluation.harmonize_sopranos(model, pieces[:1], sampler, progress=False, cache=cache)
    written = _count_pieces(monkeypatch, tasks, "harmonize")  # lengths of the pieces harmonized
    resumed = evaluation.harmonize_sopranos(model, pieces, sampler, progress=False, cache=cache)
    assert written == [16]  # the second piece only
    plain = evaluation.harmonize_sopranos(model, pieces, sampler, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(resumed.pieces, plain.pieces, strict=True))
    assert resumed.accuracy == plain.accuracy
    assert len(list(cache.glob("harmonized-*.npy"))) == 2

    # another seed, other sampler settings or other weights never reuse a harmonization
    written.clear()
    evaluation.harmonize_sopranos(model, pieces[:1], sampler, seed=5, progress=False, cache=cache)
    evaluation.harmonize_sopranos(
        model, pieces[:1], SamplerConfig(passes=4, precision="float32"), progress=False, cache=cache
    )
    with torch.no_grad():
        model.output.bias.add_(0.1)
    evaluation.harmonize_sopranos(model, pieces[:1], sampler, progress=False, cache=cache)
    assert len(written) == 3 and len(list(cache.glob("harmonized-*.npy"))) == 5

    # an unreadable file is written again, not trusted
    for path in cache.glob("harmonized-*.npy"):
        path.write_bytes(b"not an array")
    evaluation.harmonize_sopranos(model, pieces[:1], sampler, progress=False, cache=cache)
    assert len(written) == 4


def test_figures_do_not_depend_on_the_scoring_batch(chorale, monkeypatch):
    """A GPU scores in batches of GPU_BATCH windows, a CPU in batches of CPU_BATCH_STEPS steps:
    same figures."""

    torch.manual_seed(0)
    model = Coconet(ModelConfig(4, 8)).eval()
    with torch.no_grad():
        model.output.weight.mul_(100)
    pieces = [chorale[:24], chorale[24:48]]
    width = 2 * model.receptive_field() + 1
    assert predict.scoring_batch(model, width) == predict.CPU_BATCH_STEPS // width
    usual = likelihood(model, pieces, orderings=2, progress=False)
    monkeypatch.setattr(predict, "CPU_BATCH_STEPS", 5 * width)
    small = likelihood(model, pieces, orderings=2, progress=False)
    for key in ("chronological", "random", "paper_protocol"):
        assert small[key]["framewise"] == pytest.approx(usual[key]["framewise"], rel=1e-6), key


def test_scoring_on_a_gpu(chorale):
    from counterpoint.errors import ConfigError
    from counterpoint.evaluation import on_device

    torch.manual_seed(0)
    model = Coconet(ModelConfig(4, 8, dilations=[(1, 1), (2, 2)])).eval()
    on_cpu = likelihood(on_device(model, "cpu"), [chorale[:32]], orderings=2, progress=False)
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        on_device(model, "tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no GPU"):
            on_device(model, "cuda")
        return
    on_gpu = likelihood(on_device(model, "cuda"), [chorale[:32]], orderings=2, progress=False)
    for key in ("chronological", "random", "paper_protocol"):
        assert on_gpu[key]["framewise"] == pytest.approx(on_cpu[key]["framewise"], rel=1e-4), key


def test_orderings_cover_every_sounding_note_once():
    piece = _piece([[60, 55, SILENCE, 48], [62, 55, 50, 48]])
    order = draw_ordering(piece, "random", np.random.default_rng(0))
    assert sorted(map(tuple, order.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 1), (3, 0), (3, 1)]
    assert draw_ordering(piece, "chronological").tolist()[:3] == [[0, 0], [1, 0], [3, 0]]
    # random orderings are frame-major, as in the paper: a step's notes come one after another
    steps = draw_ordering(chorale_of(12), "random", np.random.default_rng(3))[:, 1]
    assert (np.diff(steps) != 0).sum() == 11
    assert sorted(np.unique(steps).tolist()) == list(range(12))
    assert steps[np.r_[True, np.diff(steps) != 0]].tolist() != list(range(12))


def chorale_of(steps: int) -> np.ndarray:
    return _piece([[60 + (t % 5), 55, 50, 43] for t in range(steps)])


# Each rule on a small hand-made example that has the fault, and one that does not.
CASES = {
    "parallel_fifths": ([[67, 64, 60, 48], [69, 65, 62, 50]], [[67, 64, 60, 48], [69, 65, 60, 53]]),
    "parallel_octaves": ([[72, 64, 55, 48], [74, 65, 55, 50]], [[72, 64, 55, 48], [71, 67, 55, 50]]),
    "hidden_fifths_octaves": (
        [[64, 60, 55, 48], [69, 62, 57, 45 + 12]],
        [[64, 60, 55, 48], [65, 60, 57, 53]],
    ),
    "voice_crossing": ([[60, 64, 55, 48]], [[64, 60, 55, 48]]),
    "spacing": ([[79, 64, 55, 48]], [[72, 64, 55, 48]]),
    "out_of_range": ([[84 - 1, 64, 55, 48]], [[79, 64, 55, 48]]),
    "leaps_over_octave": ([[60, 64, 55, 48], [60, 64, 55, 48 + 14]], [[60, 64, 55, 48], [60, 64, 55, 60]]),
}


@pytest.mark.parametrize("fault", list(CASES))
def test_each_rule_finds_its_fault_and_only_there(fault):
    with_fault, without = CASES[fault]
    assert voice_leading_faults(_piece(with_fault))[fault] >= 1
    assert voice_leading_faults(_piece(without))[fault] == 0


def test_contrary_motion_is_not_parallel():
    # soprano up, bass down, octave to octave: contrary octaves are not parallel octaves
    assert voice_leading_faults(_piece([[72, 64, 55, 48], [74, 65, 55, 38]]))["parallel_octaves"] == 0


def test_bach_is_close_to_bach(bach):
    near = histogram_distances(bach.train[:16], bach.train[16:32])
    assert all(value < 0.15 for value in near.values())
    noise = [np.random.default_rng(0).integers(48, 72, size=(64, 4)) for _ in range(5)]
    far = histogram_distances(noise, bach.train[:16])
    assert far["melodic_interval"] > 0.3


def test_report_for_a_tiny_model_on_two_pieces(tiny_checkpoint, bach_path, tmp_path):
    from typer.testing import CliRunner

    from counterpoint.cli import app

    report = tmp_path / "report.md"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--data",
            str(bach_path),
            "--checkpoint",
            str(tiny_checkpoint),
            "--max-pieces",
            "2",
            "--orderings",
            "2",
            "--passes",
            "4",
            "--report",
            str(report),
            "--cache",
            str(tmp_path / "cache"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "cache").glob("piece-*.npz"))) == 2  # resumable
    assert len(list((tmp_path / "cache").glob("harmonized-*.npy"))) == 4  # 2 sopranos, 2 samplers
    text = report.read_text()
    assert "framewise NLL" in text and "parallel fifths" in text and "Bach" in text
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["likelihood"]["pieces"] == 2
    accuracies = data["harmonization_accuracy"]
    assert len(accuracies) == 2 and all(0 <= a <= 1 for a in accuracies.values())
    assert "network alone" in text
    assert data["masked_loss_frames"] > 0 and "whole steps erased" in text


def test_forward_center_over_the_edge_equals_forward_on_the_piece():
    torch.manual_seed(1)
    model = Coconet(ModelConfig(6, 8, dilations=[(1, 1), (3, 2)])).eval()
    reach = model.receptive_field()
    steps = reach + 3  # shorter than a window: every window overhangs an edge, some both
    x = torch.randn(2, 8, steps, 46)
    with torch.no_grad():
        full = model(x)
        for step in range(steps):
            window = torch.arange(step - reach, step + reach + 1)
            inside = (window >= 0) & (window < steps)
            windowed = x[:, :, window.clamp(0, steps - 1)] * inside[None, None, :, None]
            middle = model.forward_center(windowed, inside.expand(2, -1))
            torch.testing.assert_close(middle[:, :, 0], full[:, :, step], atol=1e-5, rtol=1e-4)


def test_forward_center_equals_forward_inside_the_piece():
    torch.manual_seed(0)
    for config in (ModelConfig(6, 8, dilations=[(1, 1), (2, 2)]), ModelConfig(5, 8, separable=True)):
        model = Coconet(config).eval()
        width = 2 * model.receptive_field() + 1
        x = torch.randn(3, 8, width + 10, 46)
        with torch.no_grad():
            full = model(x)
            for start in (0, 5, 10):
                middle = model.forward_center(x[:, :, start : start + width])
                torch.testing.assert_close(
                    middle[:, :, 0], full[:, :, start + width // 2], atol=1e-5, rtol=1e-4
                )


def test_a_beat_is_on_a_chord_when_its_notes_are_one_triads_or_sevenths():
    from counterpoint.music.rules import chord_on_beats, is_chord

    assert is_chord(frozenset({7, 11, 2, 5}))  # G B D F: a dominant seventh
    assert is_chord(frozenset({0, 7}))  # a bare fifth: an incomplete triad
    assert not is_chord(frozenset({0, 2, 4}))  # C D E: a cluster
    # beat 1: C major; beat 2 (step 4): C D E G, a passing D on the beat; a rest of all voices
    chorale = np.array([[72, 67, 64, 48]] * 4 + [[74, 67, 64, 48]] * 4 + [[SILENCE] * 4] * 4)
    assert chord_on_beats(chorale) == (1, 2)
    assert evaluation.chord_tone_rate([chorale, chorale[:4]]) == 2 / 3
