"""Musical quality: voice-leading faults (by :mod:`counterpoint.music.rules`) per 100 steps,
histograms and their distances to Bach's, and harmonizing Bach's sopranos (accuracy)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from counterpoint.evaluation.cache import (
    CACHE_FORMAT,
    _harmonization_path,
    _read_harmonization,
    _settings_key,
    sampler_settings,
)
from counterpoint.io.files import write_atomically
from counterpoint.model.network import Coconet
from counterpoint.music.notes import notes
from counterpoint.music.representation import NUM_VOICES, SILENCE
from counterpoint.music.rules import FAULTS, chord_on_beats, voice_leading_faults


def fault_rates(chorales: list[np.ndarray]) -> dict[str, float]:
    """Faults per 100 steps over a set of pieces."""
    totals = dict.fromkeys(FAULTS, 0)
    for chorale in chorales:
        for name, count in voice_leading_faults(chorale).items():
            totals[name] += count
    steps = sum(len(c) for c in chorales)
    return {name: 100.0 * count / max(1, steps) for name, count in totals.items()}


def _key_tonic(chorale: np.ndarray) -> int:
    """Pitch class of the tonic music21 estimates (Krumhansl-Schmuckler) for a chorale."""
    from music21 import note, stream

    probe = stream.Stream()
    for _, length, pitch in (n for v in range(NUM_VOICES) for n in notes(chorale[:, v])):
        probe.append(note.Note(midi=pitch, quarterLength=length / 4))
    return probe.analyze("key").tonic.pitchClass if len(probe.notes) else 0


def histograms(chorales: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Normalized histograms: pitch class relative to the key's tonic (12), melodic interval
    per voice (-12..12, wider clipped: 25), vertical interval class between every voice pair
    (12), and note length in 16ths (1..16, longer clipped: 16)."""
    pitch_class = np.zeros(12)
    melodic = np.zeros(25)
    vertical = np.zeros(12)
    duration = np.zeros(16)
    for chorale in chorales:
        tonic = _key_tonic(chorale)
        for voice in range(NUM_VOICES):
            line = notes(chorale[:, voice])
            for _, length, pitch in line:
                pitch_class[(pitch - tonic) % 12] += 1
                duration[min(length, 16) - 1] += 1
            for (_, _, a), (_, _, b) in zip(line, line[1:], strict=False):
                melodic[int(np.clip(b - a, -12, 12)) + 12] += 1
        for upper in range(NUM_VOICES):
            for lower in range(upper + 1, NUM_VOICES):
                both = (chorale[:, upper] != SILENCE) & (chorale[:, lower] != SILENCE)
                intervals = np.abs(chorale[both, upper] - chorale[both, lower]) % 12
                vertical += np.bincount(intervals, minlength=12)
    result = {
        "pitch_class": pitch_class,
        "melodic_interval": melodic,
        "vertical_interval": vertical,
        "duration": duration,
    }
    return {name: h / max(1.0, h.sum()) for name, h in result.items()}


def histogram_distances(generated: list[np.ndarray], reference: list[np.ndarray]) -> dict[str, float]:
    """Total variation distance (0 = same, 1 = disjoint) between each histogram of the
    generated pieces and of the reference (Bach)."""
    ours, theirs = histograms(generated), histograms(reference)
    return {name: float(0.5 * np.abs(ours[name] - theirs[name]).sum()) for name in ours}


@dataclass
class HarmonizationResult:
    accuracy: float  # share of alto/tenor/bass notes (voice-steps) equal to Bach's
    pieces: list[np.ndarray] = field(default_factory=list)


def harmonize_sopranos(
    model: Coconet,
    chorales: list[np.ndarray],
    sampler=None,
    seed: int = 0,
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> HarmonizationResult:
    """Give the model Bach's soprano of each chorale; it writes alto, tenor and bass. With
    ``cache`` (a folder) each harmonization is kept there as it is written and reused by a
    later run with the same model, sampler settings, seed and soprano, so a stopped run
    resumes where it stopped."""
    from tqdm import tqdm

    from counterpoint.sampling.config import SamplerConfig
    from counterpoint.tasks import harmonize

    sampler = sampler or SamplerConfig()
    settings, int8_digest = sampler_settings(model, sampler)
    # the settings under their names when the cache began ("steps" for passes): the same key
    settings = {("steps" if name == "passes" else name): value for name, value in settings.items()}
    key = _settings_key(model, window=False, temperature=sampler.temperature, chronological=False)
    key += json.dumps([CACHE_FORMAT, settings]) + int8_digest
    outputs = []
    for index, chorale in enumerate(tqdm(chorales, desc="harmonizing", disable=not progress)):
        path = None if cache is None else _harmonization_path(cache, key, chorale, seed + index)
        output = _read_harmonization(path, chorale.shape)
        if output is None:
            # Bach's sopranos are harmonized in the keys and octaves he wrote them in (moved only
            # by octaves, as before the register rule): the accuracy compares with his voices
            output = harmonize(
                model, chorale, [0], sampler=sampler, seed=seed + index, transposition="octave"
            )
            output = output.chorale
            if path is not None:
                write_atomically(path, lambda temporary, o=output: np.save(temporary, o, allow_pickle=False))
        outputs.append(output)
    written = [output[:, 1:] for output in outputs]  # alto, tenor, bass
    return HarmonizationResult(agreement(written, [chorale[:, 1:] for chorale in chorales]), outputs)


def agreement(written: list[np.ndarray], truth: list[np.ndarray]) -> float:
    """The share of ``truth``'s sounding notes that ``written`` matches, over paired pieces."""
    equal = total = 0
    for mine, theirs in zip(written, truth, strict=True):
        sounding = theirs != SILENCE
        equal += int((mine == theirs)[sounding].sum())
        total += int(sounding.sum())
    return equal / max(1, total)


def quality_table(named_sets: dict[str, list[np.ndarray]], reference: list[np.ndarray]) -> dict:
    """Faults per 100 steps and distances to the reference, per named set of pieces."""
    table = {}
    for name, pieces in named_sets.items():
        table[name] = {"faults_per_100_steps": fault_rates(pieces)}
        table[name]["distance_to_bach"] = histogram_distances(pieces, reference)
    return table


def chord_tone_rate(chorales: list[np.ndarray]) -> float:
    """The share of beats (quarter notes) whose sounding notes are the tones of one triad or
    seventh chord (:func:`counterpoint.music.rules.chord_on_beats`), over a set of pieces."""
    found = [chord_on_beats(chorale) for chorale in chorales]
    return sum(chords for chords, _ in found) / max(1, sum(counted for _, counted in found))
