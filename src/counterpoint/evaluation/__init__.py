"""Evaluation: how well a model predicts real Bach (likelihood), and how good what it writes is
(voice-leading faults, distance to Bach's statistics, harmonization accuracy).

Likelihood is the exact orderless-NADE log-likelihood along an ordering of the sounding notes:
``log p(x) = sum_i log p(x_{o_i} | x_{o_1}, ..., x_{o_{i-1}})``, each conditional from the
true notes (teacher forcing; only the paper's protocol, below, uses the model's guesses).
Silent notes (rests) are given as known from the start and not scored. All conditionals of
an ordering are known in advance, so they are batched; and since a step's output depends
only on the input within the network's receptive field ``R`` steps to either side, each
conditional is computed on a window of ``2R + 1`` steps, which gives exactly the full-piece
value (tested).

Reported (all in nats):

- framewise NLL: ``-log p(x)`` per 16th step (all four voices); notewise: per sounding note;
- for the chronological ordering, and for ``K`` random orderings (mean +- standard error
  over orderings), frame-major as in the paper (steps in random order, a step's voices in
  random order);
- the ensemble of the ``K`` random orderings averaged in probability space, per piece:
  ``log mean_k p(x | o_k)``. This is an exact likelihood (of the mixture of the K orderings'
  models);
- the paper's figure (``paper_protocol``), computed as Magenta's ``FrameEvaluator`` does: each
  frame's probability averaged over the ``K`` orderings (per frame, not per piece), and a
  frame's later voices conditioned on the model's own argmax guesses for its earlier voices
  rather than on the true notes. It is not an exact likelihood; it is what the Coconet
  paper's 0.57 measures, so it is the figure to compare with that;
- ``ensemble_per_frame``: the same per-frame averaging of the exact conditionals (true notes
  within the frame too), for comparison: it is lower than the paper's protocol by about
  0.02 nats (measured on valid), because guesses are worse context than the truth.
"""

from __future__ import annotations

from counterpoint.evaluation.predict import on_device
from counterpoint.evaluation.protocol import magenta_frame_log_probs, paper_protocol_losses
from counterpoint.evaluation.quality import (
    HarmonizationResult,
    agreement,
    chord_tone_rate,
    fault_rates,
    harmonize_sopranos,
    histogram_distances,
    histograms,
    quality_table,
)
from counterpoint.evaluation.report import markdown_report, to_json
from counterpoint.evaluation.scoring import (
    cached_scores,
    conditional_log_probs,
    draw_ordering,
    likelihood,
    masked_loss,
    random_orderings,
)
from counterpoint.evaluation.workers import map_pieces
from counterpoint.music.representation import VOICES
from counterpoint.music.rules import FAULTS, voice_leading_faults

__all__ = [
    "FAULTS",
    "HarmonizationResult",
    "VOICES",
    "agreement",
    "chord_tone_rate",
    "cached_scores",
    "conditional_log_probs",
    "draw_ordering",
    "fault_rates",
    "harmonize_sopranos",
    "histogram_distances",
    "histograms",
    "likelihood",
    "magenta_frame_log_probs",
    "map_pieces",
    "markdown_report",
    "masked_loss",
    "on_device",
    "paper_protocol_losses",
    "quality_table",
    "random_orderings",
    "to_json",
    "voice_leading_faults",
]
