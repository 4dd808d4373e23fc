"""How many passes a sampler makes, the share of notes a Gibbs pass rewrites (Yao et al.'s
truncated linear schedule), and the temperature each Gibbs pass draws at."""

from __future__ import annotations

from counterpoint.sampling.config import SamplerConfig

# Gibbs passes per note to write when ``SamplerConfig.passes`` is not given. Two thirds write
# harmonizations within the noise of the paper's one pass per note (accuracy, typicality and
# statistics on 64 Bach sopranos, three paired comparisons), in two thirds of the time
# (docs/notes/2026-11-28-sessions-12-19-passes-int8-scoring.md)
GIBBS_PASSES_PER_NOTE = 2 / 3

# ... but never more than this many: every pass runs the network over the whole piece, so
# passes that grew with the piece made its cost grow with the square of its length (16 measures
# took 54x the time of 2; issue 40). With a cap the cost grows linearly: 16 measures make 97
# passes of 256 steps, at most 12x the network work of 2 measures' 65 passes of 32 steps.
# Pieces up to 3 measures are sampled exactly as before (2 measures: 64 passes to harmonize,
# 85 to compose).
MAX_GIBBS_PASSES = 96

# A capped run rewrites each note fewer times than the uncapped rule did, which leaves long
# pieces less typical to the model; a temperature that falls over the schedule buys that back:
# from ``temperature`` down to this share of it, reached where p_n reaches p_min. Chosen among
# final temperatures 0.2-0.8 and a confidence start on the JSB valid split at 8 and 16 measures,
# paired against the uncapped rule (benchmarks/long_pieces.py; docs/benchmarks.md "Long pieces").
CAPPED_FINAL_TEMPERATURE = 0.5

CONFIDENCE_PASSES = 8  # when ``passes`` is not given


def _passes_per_note(notes_to_write: int) -> int:
    """Two thirds of the notes to write (at least one): the rule without its cap."""
    return max(1, round(notes_to_write * GIBBS_PASSES_PER_NOTE))


def _capped(config: SamplerConfig, notes_to_write: int) -> bool:
    """Whether :data:`MAX_GIBBS_PASSES` cut the passes of this run."""
    return config.passes is None and _passes_per_note(notes_to_write) > MAX_GIBBS_PASSES


def gibbs_passes(config: SamplerConfig, notes_to_write: int) -> int:
    """Gibbs iterations N after the first draw: ``config.passes``, else two thirds of the
    notes to write (at least one), at most :data:`MAX_GIBBS_PASSES`."""
    if config.passes is not None:
        return config.passes
    return min(MAX_GIBBS_PASSES, _passes_per_note(notes_to_write))


def gibbs_temperatures(config: SamplerConfig, notes_to_write: int) -> list[float]:
    """The temperature of each of the N Gibbs iterations: ``config.temperature`` throughout,
    unless the cap cut the passes; then falling linearly, as the schedule's share of erased
    notes does, to :data:`CAPPED_FINAL_TEMPERATURE` of it over the first ``alpha N``."""
    total = gibbs_passes(config, notes_to_write)
    start = config.temperature
    if not _capped(config, notes_to_write):
        return [start] * total
    end = start * CAPPED_FINAL_TEMPERATURE
    span = config.alpha * total
    return [start + (end - start) * (min(1.0, n / span) if span > 0 else 1.0) for n in range(total)]


def _draft_passes(config: SamplerConfig) -> int:
    """The passes Gibbs makes before its first erasure: one independent draw, or the
    ``init_passes`` confidence passes of a draft."""
    return max(1, config.init_passes)


def planned_passes(config: SamplerConfig, notes_to_write: int) -> int:
    """The forward passes (and progress callbacks) ``config`` makes to write
    ``notes_to_write`` notes, the most of any piece in a batch: what a progress bar counts to."""
    if config.method == "independent":
        return 1
    if config.method == "ancestral":
        return notes_to_write
    if config.method == "confidence":
        return config.passes or CONFIDENCE_PASSES
    return _draft_passes(config) + gibbs_passes(config, notes_to_write)


def gibbs_schedule(n: int, total: int, p_min: float = 0.1, p_max: float = 0.9, alpha: float = 0.7) -> float:
    """Yao et al.'s truncated linear schedule: the fraction of notes erased at iteration n."""
    if total <= 0:
        return p_min
    return max(p_min, p_max - n / (alpha * total) * (p_max - p_min))
