"""Two models, paired, harmonizing melodies that are not Bach's (issue 41).

A new model ships only if, against the one it would replace, on these melodies, paired, it is
no worse on parallels, chord tones and histogram distances (each within one standard error) and
better on at least one. The melodies:

- all of ``examples/melodies.json`` (14 public-domain tunes, as written, up to 24 bars);
- the first ``--corpus`` (default 30) usable folk tunes of music21's offline corpus, taken in
  turn from Essen collections of German and Dutch ballads (Erk), Scottish songs (the tunes of
  Haydn's arrangements) and Irish songs (:data:`SOURCES`; none is Bach's). Usable:
  one line, in 2/4, 3/4 or 4/4, at least 4 full bars (cut after the pickup and 16 full bars),
  a span the soprano's range holds, a title not taken yet (a variant of a song already in), and
  a line that comes back note for note as a :class:`~counterpoint.data.melodies.Melody`.

Each melody is read the way the package reads a one-line score (``io.musicxml.score_to_piece``,
melody only) and harmonized as the command line does it: :func:`counterpoint.tasks.harmonize`
on the melody's :class:`~counterpoint.music.piece.Piece`, soprano given, the default sampler
(``--passes`` to shorten it while developing), the default transposition rule, seeds
``0..--seeds-1``; the same seeds for both models, so the results pair. The soprano must come
back note for note (a failure is counted, not fatal).

Per harmonization: every voice-leading fault per 100 steps (:func:`~counterpoint.evaluation.fault_rates`;
"parallels" is fifths plus octaves) and the share of beats that sound one chord
(:func:`~counterpoint.evaluation.chord_tone_rate`, on the piece with its pickup's bar filled out
so that the beats fall on beats). These are averaged over the seeds within each melody.
The histogram distances (total variation, as :func:`~counterpoint.evaluation.histogram_distances`)
are set-level statistics: here each melody's harmonizations (its seeds pooled) are compared with
Bach's JSB valid split, one distance per melody and model. The standard errors are those of the
paired per-melody differences B - A over melodies (a melody counts once however many seeds).
The pooled distances of all of a model's harmonizations are printed beside them, without an error.

B is "worse" on a metric where B - A is in the bad direction by more than one standard error,
"better" where it is in the good direction by more than one.

Harmonizations are kept in ``runs/unseen-cache/`` (one file per model weights, sampler settings,
melody and seed, written atomically), so a rerun or a third model costs only what is new.

    python benchmarks/unseen_melodies.py --model jsb --model bach --seeds 2 [--json runs/unseen.json]
    python benchmarks/unseen_melodies.py --model jsb --model jsb --melodies 2 --no-cache  # B - A = 0

``--melodies N`` keeps the first N (the examples come first) and ``--passes`` shortens the
sampler, for a quick try. Cost: about 0.03 s per 16th per harmonization with the default
sampler on two AMD EPYC cores shared with a training run (4.4 s for 8 to 12 bars); the 44
melodies are 7,602 16ths, so 2 models x 2 seeds take about 15 minutes, half that with A kept.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from common import add_data, cpu_description, markdown_table

from counterpoint.data.datasets import load_jsb
from counterpoint.data.melodies import STEPS_PER_BAR, Melody, read_melodies
from counterpoint.errors import CounterpointError
from counterpoint.evaluation import chord_tone_rate, fault_rates, histograms
from counterpoint.evaluation.cache import sampler_settings
from counterpoint.io.files import write_atomically
from counterpoint.io.musicxml import score_to_piece
from counterpoint.model.checkpoint import fingerprint
from counterpoint.model.network import Coconet
from counterpoint.model.registry import load_model
from counterpoint.music.piece import Piece
from counterpoint.music.representation import SILENCE
from counterpoint.music.rules import FAULTS
from counterpoint.music.transposition import DEFAULT_RULE, max_spans
from counterpoint.sampling.config import SamplerConfig
from counterpoint.tasks import harmonize

ROOT = Path(__file__).resolve().parents[1]
MELODIES = ROOT / "examples" / "melodies.json"
CACHE = ROOT / "runs" / "unseen-cache"
CACHE_FORMAT = 1  # raise when what a cached file holds, or how it is named, changes

# music21 corpus collections (offline, public domain), taken from in turn so that the set mixes
# their keys, metres and styles; none is by Bach
SOURCES = ("essenFolksong/erk5", "essenFolksong/folkHaydn", "essenFolksong/irl")
MAX_BARS, MIN_BARS = 16, 4

HISTOGRAMS = ("pitch_class", "melodic_interval", "vertical_interval", "duration")
# the metrics the verdict weighs (issue 41), each with the direction that is better
VERDICT = {"parallels": "lower", "chord_tones": "higher"} | {f"distance_{h}": "lower" for h in HISTOGRAMS}
LABELS = {
    "parallels": "parallel 5ths + 8ves per 100 steps",
    "chord_tones": "beats on a chord",
    **{f"fault_{name}": f"{name.replace('_', ' ')} per 100 steps" for name in FAULTS},
    **{f"distance_{h}": f"{h.replace('_', ' ')} histogram: distance to Bach" for h in HISTOGRAMS},
}


@dataclass(frozen=True)
class Tune:
    """A melody to harmonize and where it came from (``examples`` or a corpus collection)."""

    source: str
    melody: Melody

    @property
    def piece(self) -> Piece:
        return self.melody.piece()


# ---------------------------------------------------------------- the melodies


def melody_of(piece: Piece, title: str, key: str) -> Melody:
    """The soprano of ``piece`` as a :class:`Melody` (notes and rests in 16ths from the first
    downbeat, a pickup after the rest that fills its bar), as ``examples/melodies.json`` has it."""
    line, struck = piece.pitches[:, 0], piece.onset[:, 0]
    notes = [[SILENCE, 0, piece.lead]] if piece.lead else []
    for step, pitch in enumerate(line):
        if notes and not struck[step] and pitch == notes[-1][0]:
            notes[-1][2] += 1  # a held note, or a rest going on
        else:
            notes.append([int(pitch), piece.lead + step, 1])
    return Melody(title, key, piece.time_signature, tuple(tuple(note) for note in notes))


def key_name(score) -> str:
    """The key the file gives (ABC's K: field), else music21's estimate: ``"D minor"``."""
    keys = score.flatten().getElementsByClass("Key")
    found = keys[0] if len(keys) else score.analyze("key")
    return f"{found.tonic.name.replace('-', 'b')} {found.mode}"


def cropped(piece: Piece) -> Piece | None:
    """The pickup and at most :data:`MAX_BARS` full bars of ``piece``; None if it has fewer than
    :data:`MIN_BARS` full bars."""
    bar = piece.steps_per_bar
    if piece.steps - piece.pickup < MIN_BARS * bar:
        return None
    keep = piece.pickup + MAX_BARS * bar
    return piece.with_pitches(piece.pitches[:keep], piece.onset[:keep])


def usable(score, name: str) -> Melody | None:
    """A corpus tune as a :class:`Melody`, or None where it is not usable (module docstring)."""
    try:
        piece = score_to_piece(score, name, melody_only=True)
    except CounterpointError:  # chords or overlapping notes: not one line
        return None
    if piece.time_signature not in STEPS_PER_BAR or piece.voices != [0]:
        return None
    piece = cropped(piece)
    if piece is None:
        return None
    sounding = piece.pitches[:, 0][piece.pitches[:, 0] != SILENCE]
    if sounding.max() - sounding.min() > max_spans()[0]:
        return None
    melody = melody_of(piece, piece.title or name, key_name(score))
    back = melody.piece()  # the round trip the harmonization will see
    same = np.array_equal(back.pitches[:, 0], piece.pitches[:, 0]) and back.pickup == piece.pickup
    return melody if same and np.array_equal(back.onset[:, 0], piece.onset[:, 0]) else None


def corpus_tunes(count: int) -> list[Tune]:
    """The first ``count`` usable tunes of :data:`SOURCES`, taken from each in turn."""
    from music21 import corpus

    queues = {source: iter(enumerate(corpus.parse(source).scores)) for source in SOURCES}
    tunes, titles = [], set()
    while len(tunes) < count and queues:
        for source in list(queues):
            for index, score in queues[source]:
                melody = usable(score, f"{source}#{index}")
                if melody is not None and melody.title.lower() not in titles:
                    titles.add(melody.title.lower())
                    tunes.append(Tune(f"{source}#{index}", melody))
                    break
            else:  # this collection has no more
                del queues[source]
            if len(tunes) == count:
                break
    return tunes


def all_tunes(corpus_count: int, limit: int | None = None) -> list[Tune]:
    """The examples, then ``corpus_count`` corpus tunes; the first ``limit`` of them (a short
    try: the corpus is read only as far as the limit needs)."""
    examples = [Tune("examples", melody) for melody in read_melodies(MELODIES)]
    if limit is not None:
        corpus_count = max(0, min(corpus_count, limit - len(examples)))
    return (examples + corpus_tunes(corpus_count))[:limit]


def describe(tunes: list[Tune]) -> str:
    """How many tunes from where, and their keys and metres."""
    sources = collections.Counter(tune.source.split("#")[0] for tune in tunes)
    keys = collections.Counter(tune.melody.key for tune in tunes)
    metres = collections.Counter(tune.melody.metre for tune in tunes)
    bars = [tune.piece.steps / tune.piece.steps_per_bar for tune in tunes]

    def listed(counts: collections.Counter) -> str:
        return ", ".join(f"{name} {n}" for name, n in counts.most_common())

    return (
        f"{len(tunes)} melodies ({listed(sources)}); {min(bars):.1f} to {max(bars):.1f} bars\n"
        f"keys: {listed(keys)}\nmetres: {listed(metres)}"
    )


# ---------------------------------------------------------------- harmonizing, cached


def settings_key(model: Coconet, weights: str, sampler: SamplerConfig) -> str:
    """Everything besides the melody and seed that decides a harmonization: the weights (their
    fingerprint ``weights``), the sampler's settings as the evaluation's cache resolves them
    (:func:`counterpoint.evaluation.cache.sampler_settings`) and the transposition rule."""
    settings, int8_digest = sampler_settings(model, sampler)
    settings["transposition"] = DEFAULT_RULE
    return json.dumps([CACHE_FORMAT, weights, settings], sort_keys=True) + int8_digest


def cache_path(cache: Path, key: str, piece: Piece, seed: int) -> Path:
    digest = hashlib.sha256(key.encode())
    digest.update(np.ascontiguousarray(piece.pitches[:, 0], dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(piece.onset[:, 0], dtype=np.uint8).tobytes())
    digest.update(f"{piece.time_signature} {piece.pickup} {seed}".encode())  # where the bars fall
    return cache / f"harmonized-{digest.hexdigest()[:32]}.npz"


def read_cached(path: Path | None, steps: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A kept harmonization's pitches and onsets; None where there is none (or it is unreadable)."""
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            pitches, onset = archive["pitches"], archive["onset"]
    except (OSError, ValueError, KeyError):
        return None
    return (pitches, onset) if pitches.shape == onset.shape == (steps, 4) else None


def harmonized(
    model: Coconet, key: str, piece: Piece, sampler: SamplerConfig, seed: int, cache: Path | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """The harmonization's pitches and onsets, and the seconds it took (0: it was kept)."""
    path = None if cache is None else cache_path(cache, key, piece, seed)
    kept = read_cached(path, piece.steps)
    if kept is not None:
        return (*kept, 0.0)
    start = time.perf_counter()
    result = harmonize(model, piece, [0], sampler, seed)
    seconds = time.perf_counter() - start
    pitches, onset = result.chorale, np.asarray(result.onset, dtype=bool)
    if path is not None:

        def write(temporary: Path) -> None:
            with open(temporary, "wb") as file:
                np.savez(file, pitches=pitches, onset=onset)

        write_atomically(path, write)
    return pitches, onset, seconds


# ---------------------------------------------------------------- figures


def figures(piece: Piece, pitches: np.ndarray) -> dict[str, float]:
    """One harmonization's faults per 100 steps and share of beats on a chord."""
    rates = fault_rates([pitches])
    found = {f"fault_{name}": rate for name, rate in rates.items()}
    found["parallels"] = rates["parallel_fifths"] + rates["parallel_octaves"]
    # beats are counted from step 0: a pickup's bar filled out with rest puts them on the beats
    found["chord_tones"] = chord_tone_rate([piece.with_pitches(pitches).aligned_pitches()])
    return found


def distances(pieces: list[np.ndarray], bach: dict[str, np.ndarray]) -> dict[str, float]:
    """histogram_distances' total variation, against Bach's histograms computed once (it would
    estimate the key of every reference chorale again for every melody)."""
    ours = histograms(pieces)
    return {f"distance_{h}": float(0.5 * np.abs(ours[h] - bach[h]).sum()) for h in HISTOGRAMS}


def melody_figures(piece: Piece, results: list[np.ndarray], bach: dict[str, np.ndarray]) -> dict[str, float]:
    """A melody's figures for one model: per-harmonization figures averaged over its seeds,
    and the distances of its seeds' harmonizations, pooled, to Bach."""
    each = [figures(piece, pitches) for pitches in results]
    found = {name: float(np.mean([f[name] for f in each])) for name in each[0]}
    return found | distances(results, bach)


def paired(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Means of A and B, and the mean paired difference B - A with its standard error."""
    difference = b - a
    error = float(difference.std(ddof=1) / np.sqrt(len(difference))) if len(difference) > 1 else 0.0
    return {"a": float(a.mean()), "b": float(b.mean()), "difference": float(difference.mean()), "se": error}


def judge(stats: dict[str, dict[str, float]], names: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Of the verdict's metrics (or ``names``), those on which B is worse, and those on which it
    is better, by more than one standard error."""
    worse, better = [], []
    for name in names or list(VERDICT):
        gain = stats[name]["difference"] * (1 if VERDICT[name] == "higher" else -1)
        if gain < -stats[name]["se"]:
            worse.append(name)
        elif gain > stats[name]["se"]:
            better.append(name)
    return worse, better


def verdict_line(worse: list[str], better: list[str]) -> str:
    if worse:
        return f"B is worse than A by more than one SE on: {', '.join(worse)}"
    gained = ", ".join(better) if better else "none (so it does not pass issue 41's rule)"
    return f"B is no worse than A on every metric (within one SE) and better on: {gained}"


# ---------------------------------------------------------------- the run


def run_model(
    label: str,
    name: str,
    tunes: list[Tune],
    seeds: list[int],
    sampler: SamplerConfig,
    cache: Path | None,
) -> tuple[str, dict[int, list[np.ndarray]], list[float], int]:
    """Harmonize every tune with every seed: the model's fingerprint, each tune's results (by
    index; a tune the model could not harmonize is left out), the seconds of each fresh
    sample, and how many results changed the melody."""
    model = load_model(name)
    weights = fingerprint(model)
    key = settings_key(model, weights, sampler)
    results, seconds, changed = {}, [], 0
    for index, tune in enumerate(tunes):
        piece = tune.piece
        try:
            outputs = [harmonized(model, key, piece, sampler, seed, cache) for seed in seeds]
        except CounterpointError as error:  # a melody the model cannot take: said, and skipped
            print(f"  {label} {name}: {tune.melody.title}: {error}", flush=True)
            continue
        for pitches, onset, spent in outputs:
            kept = np.array_equal(pitches[:, 0], piece.pitches[:, 0])
            changed += not (kept and np.array_equal(onset[:, 0], piece.onset[:, 0]))
            seconds += [spent] if spent else []
        results[index] = [pitches for pitches, _, _ in outputs]
        spent = sum(s for _, _, s in outputs)
        print(
            f"  {label} {name}: {index + 1}/{len(tunes)} {tune.melody.title[:40]} ({spent:.1f} s)", flush=True
        )
    return weights, results, seconds, changed


def table(stats: dict[str, dict[str, float]], pooled: dict[str, dict[str, float]]) -> str:
    header = ["metric", "A", "B", "B - A", "± SE", "verdict", "A pooled", "B pooled"]
    rows = []
    for name, s in stats.items():
        mark = ""
        if name in VERDICT:
            worse, better = judge({name: s}, [name])
            mark = "worse" if worse else "better" if better else "same"
            mark += f" ({VERDICT[name]} is better)"
        extra = [f"{pooled[m][name]:.4f}" for m in ("a", "b")] if name in pooled["a"] else ["", ""]
        row = [LABELS[name], f"{s['a']:.4f}", f"{s['b']:.4f}", f"{s['difference']:+.4f}", f"{s['se']:.4f}"]
        rows.append(row + [mark, *extra])
    return markdown_table(header, rows)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", action="append", required=True, help="A, then B: a shipped name or a path")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 per melody (default 2)")
    parser.add_argument("--corpus", type=int, default=30, help="music21 corpus tunes (default 30)")
    parser.add_argument("--melodies", type=int, default=None, help="only the first N melodies (a short try)")
    parser.add_argument("--passes", type=int, default=None, help="Gibbs passes (default: the sampler's rule)")
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"kept harmonizations (default {CACHE})")
    parser.add_argument("--no-cache", action="store_true", help="sample everything again, keep nothing")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    add_data(parser, "the reference: Bach's JSB chorales, valid split")
    args = parser.parse_args()
    if len(args.model) != 2:
        parser.error("give --model twice: A (the reference) and B (the candidate)")
    return args


def main() -> None:
    args = parse_arguments()
    started = time.perf_counter()
    tunes = all_tunes(args.corpus, args.melodies)
    print(describe(tunes), flush=True)
    seeds = list(range(args.seeds))
    sampler = SamplerConfig(passes=args.passes)
    cache = None if args.no_cache else args.cache
    bach = histograms(list(load_jsb(args.data).valid))
    runs = {
        label: run_model(label.upper(), name, tunes, seeds, sampler, cache)
        for label, name in zip("ab", args.model, strict=True)
    }
    both = sorted(set(runs["a"][1]) & set(runs["b"][1]))
    per_melody = {
        label: [melody_figures(tunes[i].piece, runs[label][1][i], bach) for i in both] for label in "ab"
    }
    # the verdict's metrics first, then every fault kind for the record
    order = [*VERDICT, *(f"fault_{name}" for name in FAULTS)]
    stats = {
        name: paired(*(np.array([f[name] for f in per_melody[label]]) for label in "ab")) for name in order
    }
    pooled = {label: distances([p for i in both for p in runs[label][1][i]], bach) for label in "ab"}
    worse, better = judge(stats)
    seconds = runs["a"][2] + runs["b"][2]
    changed = runs["a"][3] + runs["b"][3]
    total = time.perf_counter() - started
    sampled = f"median {np.median(seconds):.2f} s per fresh one" if seconds else "all kept"
    print(
        f"\n# {cpu_description()}\n# A = {args.model[0]} ({runs['a'][0][:12]}), B = {args.model[1]} "
        f"({runs['b'][0][:12]}); {len(both)} of {len(tunes)} melodies paired, seeds {seeds}, "
        f"{len(both) * len(seeds) * 2} harmonizations ({len(seconds)} sampled, {sampled}); "
        f"sampler {sampler}; {total:.0f} s in all\n"
        f"# B - A paired by melody (seeds averaged within a melody); SE over melodies. Histogram "
        f"distances: per melody, its seeds' harmonizations pooled against the JSB valid split "
        f"('pooled': all of a model's harmonizations at once, no SE)\n"
    )
    print(table(stats, pooled))
    print(f"\nmelody changed in the soprano: {changed} of {2 * len(both) * len(seeds)} harmonizations")
    print(verdict_line(worse, better))
    if args.json:
        report = {
            "machine": cpu_description(),
            "models": {"a": args.model[0], "b": args.model[1]},
            "fingerprints": {label: runs[label][0] for label in "ab"},
            "seeds": seeds,
            "sampler": asdict(sampler),
            "melodies": [{"source": tunes[i].source, **asdict(tunes[i].melody)} for i in both],
            "per_melody": per_melody,
            "stats": stats,
            "pooled": pooled,
            "standard_errors": "paired per-melody differences over melodies; histogram distances per melody",
            "worse": worse,
            "better": better,
            "verdict": verdict_line(worse, better),
            "soprano_changed": changed,
            "sample_seconds": seconds,
            "total_seconds": total,
        }
        write_atomically(args.json, lambda temporary: temporary.write_text(json.dumps(report, indent=1)))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
