"""How many passes a sampler makes, and the share of notes a Gibbs pass rewrites (Yao et al.'s
truncated linear schedule)."""

from __future__ import annotations

from counterpoint.sampling.config import SamplerConfig

# Gibbs passes per note to write when ``SamplerConfig.passes`` is not given. Two thirds write
# harmonizations within the noise of the paper's one pass per note (accuracy, typicality and
# statistics on 64 Bach sopranos, three paired comparisons), in two thirds of the time
# (docs/notes/2026-11-28-sessions-12-19-passes-int8-scoring.md)
GIBBS_PASSES_PER_NOTE = 2 / 3


CONFIDENCE_PASSES = 8  # when ``passes`` is not given


def gibbs_passes(config: SamplerConfig, notes_to_write: int) -> int:
    """Gibbs iterations N after the first draw: ``config.passes``, else two thirds of the
    notes to write (at least one)."""
    if config.passes is not None:
        return config.passes
    return max(1, round(notes_to_write * GIBBS_PASSES_PER_NOTE))


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
