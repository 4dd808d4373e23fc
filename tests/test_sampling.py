import numpy as np
import pytest
import torch

from counterpoint.data import masks
from counterpoint.errors import ConfigError, MaskError, PitchOutOfRangeError
from counterpoint.music.representation import SILENCE, to_pianoroll
from counterpoint.music.rules import VOICE_RANGES, parallel_pitches, voice_leading_faults
from counterpoint.runtime.backend import inference_model
from counterpoint.sampling.config import METHODS, SamplerConfig
from counterpoint.sampling.samplers import sample
from counterpoint.sampling.schedule import (
    CAPPED_FINAL_TEMPERATURE,
    gibbs_schedule,
    gibbs_temperatures,
    planned_passes,
)
from counterpoint.tasks import (
    compose,
    continue_piece,
    fill_many,
    harmonize,
    infill,
    transition,
)

FAST = {
    "gibbs": SamplerConfig(passes=6),
    "independent": SamplerConfig(method="independent"),
    "ancestral": SamplerConfig(method="ancestral"),
    "confidence": SamplerConfig(method="confidence", passes=4),
    "gibbs from a confidence start": SamplerConfig(init_passes=3, passes=4, p_max=0.5),
}


def test_every_method_is_tested():
    assert {config.method for config in FAST.values()} == set(METHODS)


def _in_voice_ranges(chorale, written):
    for voice, (low, high) in enumerate(VOICE_RANGES):
        line = chorale[:, voice][written[voice]]
        assert ((line >= low) & (line <= high)).all(), (voice, line.min(), line.max())


@pytest.mark.parametrize("method", FAST)
def test_every_task_keeps_given_notes_and_ranges(tiny_model, chorale, method):
    piece = chorale[:32]
    sampler = FAST[method]
    result = harmonize(tiny_model, piece[:, 0], sampler=sampler, seed=1).chorale
    np.testing.assert_array_equal(result[:, 0], piece[:, 0])
    _in_voice_ranges(result, masks.harmonize_mask(32, [0]) == 0)
    result = infill(tiny_model, piece, 8, 24, [1, 2], sampler=sampler).chorale
    keep = masks.infill_mask(32, 8, 24, [1, 2])
    np.testing.assert_array_equal(result[keep.T], piece[keep.T])
    _in_voice_ranges(result, ~keep)
    result = transition(tiny_model, piece[:8], piece[24:], 1, sampler=sampler).chorale
    assert len(result) == 8 + 16 + 8
    np.testing.assert_array_equal(result[:8], piece[:8])
    np.testing.assert_array_equal(result[24:], piece[24:])
    result = continue_piece(tiny_model, piece[:16], 1, sampler=sampler).chorale
    np.testing.assert_array_equal(result[:16], piece[:16])
    assert (result[16:] != SILENCE).all()
    result = compose(tiny_model, 1, sampler=sampler).chorale
    assert result.shape == (16, 4) and (result != SILENCE).all()
    _in_voice_ranges(result, np.ones((4, 16), dtype=bool))


@pytest.mark.parametrize("method", FAST)
def test_same_seed_same_piece(tiny_model, chorale, method):
    a = harmonize(tiny_model, chorale[:16, 0], sampler=FAST[method], seed=7).chorale
    b = harmonize(tiny_model, chorale[:16, 0], sampler=FAST[method], seed=7).chorale
    c = harmonize(tiny_model, chorale[:16, 0], sampler=FAST[method], seed=8).chorale
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_schedule_values():
    assert gibbs_schedule(0, 100) == pytest.approx(0.9)
    assert gibbs_schedule(70, 100) == pytest.approx(0.1)  # n = alpha N reaches p_min
    assert gibbs_schedule(35, 100) == pytest.approx(0.5)
    assert gibbs_schedule(100, 100) == pytest.approx(0.1)


def test_ancestral_writes_one_note_per_step(tiny_model, chorale):
    piece = chorale[:8]
    known = torch.from_numpy(masks.harmonize_mask(8, [0, 1]))[None]
    roll = torch.from_numpy(to_pianoroll(piece))[None]
    seen = []
    sample(
        tiny_model,
        roll,
        known,
        SamplerConfig(method="ancestral"),
        callback=lambda n, p, rewritten: seen.append(int(rewritten.sum())),
    )
    assert seen == [1] * 16  # 2 voices x 8 steps, one at a time


def test_gibbs_callback_and_steps(tiny_model, chorale):
    calls = []
    harmonize(
        tiny_model,
        chorale[:16, 0],
        sampler=SamplerConfig(passes=5),
        callback=lambda n, p, rewritten: calls.append((n, int(rewritten.sum()))),
    )
    assert [n for n, _ in calls] == list(range(6))  # initial pass + 5 Gibbs steps
    assert calls[0][1] == 48 and calls[1][1] == round(0.9 * 48)


@pytest.mark.parametrize(
    "config",
    [
        SamplerConfig(),
        SamplerConfig(passes=5),
        SamplerConfig(init_passes=3, passes=4, p_max=0.5),
        SamplerConfig(method="independent"),
        SamplerConfig(method="ancestral"),
        SamplerConfig(method="confidence", passes=4),
    ],
    ids=lambda config: f"{config.method}-{config.steps}-{config.init_passes}",
)
def test_planned_passes_are_the_passes_made(tiny_model, chorale, config):
    calls = []
    harmonize(tiny_model, chorale[:16, 0], sampler=config, callback=lambda n, p, r: calls.append(n))
    assert len(calls) == planned_passes(config, notes_to_write=48)


def test_default_gibbs_makes_two_passes_for_every_three_notes(tiny_model, chorale):
    calls = []
    harmonize(tiny_model, chorale[:16, 0], callback=lambda n, p, r: calls.append(n))
    assert len(calls) == 1 + 32  # the first draw, then 2/3 of the 48 notes to write


def test_long_pieces_cost_linearly(tiny_model, bach):
    """Issue 40: harmonizing 16 measures makes at most 12/8 the network passes of 2 measures (each
    pass runs the network over the whole piece: at most 12x the network's work for 8x the
    length), counted as the sampler reports its passes."""
    soprano = np.concatenate([piece[:, 0] for piece in bach.train])[:256]

    def passes(steps: int) -> int:
        calls = []
        harmonize(tiny_model, soprano[:steps], callback=lambda n, p, r: calls.append(n))
        assert len(calls) == planned_passes(SamplerConfig(), 3 * steps)
        return len(calls)

    assert passes(32) == 1 + 64  # 2 measures as before the cap
    assert passes(256) * 256 <= 12 * passes(32) * 32


def test_capped_passes_anneal_the_temperature(tiny_model, bach):
    """Where the cap cuts the passes the temperature falls over the schedule, so the default
    writes another piece than the same passes at one temperature; below the cap it is the same."""
    config = SamplerConfig()
    assert gibbs_temperatures(config, 96) == [config.temperature] * 64
    long = gibbs_temperatures(config, 3 * 256)
    assert long[0] == config.temperature and long[-1] == pytest.approx(
        config.temperature * CAPPED_FINAL_TEMPERATURE
    )
    assert all(a >= b for a, b in zip(long, long[1:], strict=False))
    assert gibbs_temperatures(SamplerConfig(passes=96), 3 * 256) == [config.temperature] * 96  # passes given
    soprano = np.concatenate([piece[:, 0] for piece in bach.train])[:128]
    for steps, passes, same in ((32, 64, True), (128, len(long), False)):
        default = harmonize(tiny_model, soprano[:steps], seed=5).chorale
        fixed = harmonize(tiny_model, soprano[:steps], sampler=SamplerConfig(passes=passes), seed=5).chorale
        assert np.array_equal(default, fixed) == same


def test_gibbs_from_a_confidence_start(tiny_model, chorale):
    calls = []
    harmonize(
        tiny_model,
        chorale[:16, 0],
        sampler=SamplerConfig(init_passes=3, passes=4, p_max=0.5),
        callback=lambda n, p, rewritten: calls.append((n, int(rewritten.sum()))),
    )
    assert [n for n, _ in calls] == list(range(7))  # 3 confidence passes, then 4 Gibbs steps
    assert sum(count for _, count in calls[:3]) == 48  # the draft writes each note once
    assert calls[3][1] == round(0.5 * 48)  # Gibbs starts from p_max
    with pytest.raises(ConfigError, match="init_passes"):
        SamplerConfig(init_passes=-1)


@pytest.mark.parametrize("method", FAST)
def test_batched_equals_one_by_one(tiny_model, chorale, method):
    pieces = [chorale[:16], chorale[16:32], chorale[32:48]]
    knowns = [masks.harmonize_mask(16, [0]), masks.infill_mask(16, 4, 12), masks.harmonize_mask(16, [3])]
    together = fill_many(tiny_model, pieces, knowns, FAST[method], seeds=[3, 4, 5])
    for piece, known, seed, result in zip(pieces, knowns, [3, 4, 5], together, strict=True):
        alone = fill_many(tiny_model, [piece], [known], FAST[method], seeds=[seed])[0]
        np.testing.assert_array_equal(result.chorale, alone.chorale)


@pytest.mark.parametrize("method", ["gibbs", "confidence", "gibbs from a confidence start"])
def test_rows_dropped_by_the_callback_stop_and_leave_the_others_unchanged(tiny_model, chorale, method):
    """A server drops an abandoned request's rows between passes: they stop where they were,
    the batch gets smaller, and the other rows come out exactly as without the drop."""
    pieces = [chorale[:16], chorale[16:32], chorale[32:48]]
    knowns = [masks.harmonize_mask(16, [0])] * 3
    full = fill_many(tiny_model, pieces, knowns, FAST[method], seeds=[3, 4, 5])
    seen, rows_written = {}, []

    def drop_the_middle_row(n: int, pianoroll: torch.Tensor, rewritten: torch.Tensor) -> torch.Tensor:
        seen[n] = pianoroll[1].clone()
        rows_written.append(int(rewritten.flatten(1).any(1).sum()))
        return torch.tensor([True, n < 1, True])

    dropped = fill_many(
        tiny_model, pieces, knowns, FAST[method], seeds=[3, 4, 5], callback=drop_the_middle_row
    )
    for kept in (0, 2):
        np.testing.assert_array_equal(dropped[kept].chorale, full[kept].chorale)
    assert rows_written[:2] == [3, 3] and set(rows_written[2:]) == {2}  # written from pass 2 on by two rows
    assert all(torch.equal(seen[n], seen[1]) for n in seen if n > 1)  # frozen from pass 1
    assert not np.array_equal(dropped[1].chorale, full[1].chorale)  # it stopped early
    np.testing.assert_array_equal(dropped[1].chorale[:, 0], pieces[1][:, 0])  # its melody is kept


def test_temperature_zero_is_deterministic_argmax(tiny_model, chorale):
    a = harmonize(
        tiny_model, chorale[:16, 0], sampler=SamplerConfig(method="independent", temperature=0), seed=1
    )
    b = harmonize(
        tiny_model, chorale[:16, 0], sampler=SamplerConfig(method="independent", temperature=0), seed=2
    )
    np.testing.assert_array_equal(a.chorale, b.chorale)


def test_melody_out_of_range_is_moved_by_octaves(tiny_model, chorale):
    melody = chorale[:16, 0] + 24
    result = harmonize(tiny_model, melody, sampler=FAST["independent"])
    np.testing.assert_array_equal(result.chorale[:, 0], melody)
    assert abs(result.shift + 24) <= 6  # written about two octaves down, and moved back
    with pytest.raises(PitchOutOfRangeError, match="the melody spans 50 semitones"):
        harmonize(tiny_model, np.array([40, 50, 60, 70, 80, 90]), sampler=FAST["independent"])


def test_any_length_works(tiny_model, chorale):
    for steps in (1, 5, 37):
        result = harmonize(tiny_model, chorale[:steps, 0], sampler=FAST["gibbs"])
        assert result.chorale.shape == (steps, 4)


def test_bad_requests(tiny_model, chorale):
    with pytest.raises(MaskError, match="nothing to write"):
        infill(tiny_model, chorale[:16], 0, 16, [])
    with pytest.raises(MaskError, match="nothing to write"):
        harmonize(tiny_model, chorale[:16], [0, 1, 2, 3])
    with pytest.raises(MaskError, match="longer than"):
        compose(tiny_model, 100)
    with pytest.raises(ConfigError, match="unknown sampler"):
        SamplerConfig(method="magic")
    with pytest.raises(ConfigError, match="unknown precision"):
        SamplerConfig(precision="fp8")
    with pytest.raises(MaskError, match="window"):
        infill(tiny_model, chorale[:16], 10, 40)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_both_precisions_keep_given_notes_and_repeat(tiny_model, chorale, precision):
    config = SamplerConfig(passes=4, precision=precision)
    melody = chorale[:16, 0]
    result = harmonize(tiny_model, melody, sampler=config, seed=0).chorale
    np.testing.assert_array_equal(result[:, 0], melody)
    assert (result[:, 1:] != SILENCE).all()
    np.testing.assert_array_equal(result, harmonize(tiny_model, melody, sampler=config, seed=0).chorale)


def test_inference_model_is_made_once_until_the_weights_change(tiny_model):
    fused = inference_model(tiny_model, torch.float32)
    assert fused.fused and inference_model(tiny_model, torch.float32) is fused
    assert inference_model(tiny_model, torch.bfloat16).output.weight.dtype == torch.bfloat16
    with torch.no_grad():
        tiny_model.output.bias.add_(1.0)  # as an optimizer step would
    try:
        refused = inference_model(tiny_model, torch.float32)
        assert refused is not fused
        torch.testing.assert_close(refused.output.bias, tiny_model.output.bias)
    finally:
        with torch.no_grad():
            tiny_model.output.bias.sub_(1.0)


def test_parallel_pitches_follow_the_evaluation_rule():
    """Every flagged candidate, and only those, makes parallel fifths or octaves by the rule
    `counterpoint evaluate` counts (checked pair by pair on three-step excerpts)."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(30):
        chorale = rng.integers(0, 20, size=(6, 4)) + 40
        chorale[rng.random((6, 4)) < 0.1] = SILENCE
        sounding = (chorale.T != SILENCE)[None]
        flagged = parallel_pitches(np.maximum(chorale.T, 0)[None], sounding, 128)[0]
        for voice in range(4):
            for step in range(6):
                for pitch in range(36, 70):
                    expected = False
                    for other in set(range(4)) - {voice}:
                        excerpt = np.full((3, 4), SILENCE)
                        lo, hi = max(0, step - 1), min(6, step + 2)
                        excerpt[: hi - lo, [voice, other]] = chorale[lo:hi, [voice, other]]
                        excerpt[step - lo, voice] = pitch
                        faults = voice_leading_faults(excerpt)
                        expected |= faults["parallel_fifths"] + faults["parallel_octaves"] > 0
                    assert bool(flagged[voice, step, pitch]) == expected, (chorale, voice, step, pitch)
                    hits += expected
    assert hits > 100  # the rule was exercised


def test_avoiding_parallels_writes_fewer(chorale, tiny_model):
    from counterpoint.evaluation import fault_rates

    def parallels(avoid: bool) -> float:
        config = SamplerConfig(passes=16, avoid_parallels=avoid)
        pieces = [harmonize(tiny_model, chorale[:48], sampler=config, seed=seed).chorale for seed in range(4)]
        rates = fault_rates(pieces)
        return rates["parallel_fifths"] + rates["parallel_octaves"]

    assert parallels(True) < parallels(False)
