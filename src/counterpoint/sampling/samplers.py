"""Samplers: fill the unknown notes of pianorolls with a trained model.

One interface: ``sample(model, pianoroll, known, config) -> pianoroll`` for batches
``(B, 4, T, P)`` with known-masks ``(B, 4, T)``. Given notes are never changed, every written
note lies inside its voice's range (:data:`~counterpoint.music.rules.VOICE_RANGES`), and a
run is exactly repeatable from its seeds: element ``b`` of a batch draws only from its own
generator, so a batch of pieces equals the same pieces sampled one by one. For the same reason
the Gibbs sampler can drop rows its callback no longer wants (a server's abandoned requests)
between passes without changing the others.

The network runs with batch norm folded into its convolutions, as int8 with ONNX Runtime
where the model has an int8 file made from its weights (:mod:`counterpoint.runtime.int8`), else
in bfloat16 where the CPU has native bf16, else in float32 (``SamplerConfig.precision``).

Methods:

- ``gibbs`` (default, the paper's): sample every unknown note independently, then ``N``
  times erase a fraction ``p_n`` of the written notes and resample them together, with
  Yao et al.'s truncated linear schedule ``p_n = max(p_min, p_max - n/(alpha N) (p_max-p_min))``.
  ``N`` is two thirds of the notes to write unless ``passes`` says otherwise (the paper: one
  per note; within noise of it, measured, in two thirds of the time: :data:`GIBBS_PASSES_PER_NOTE`),
  at most :data:`MAX_GIBBS_PASSES`, so that cost grows linearly with length; where that cap
  cuts the passes, the temperature falls over the schedule (:func:`gibbs_temperatures`).
  With ``init_passes`` > 0 it starts instead from that many ``confidence`` passes, a draft
  good enough that a short schedule from a lower ``p_max`` refines it: a third of the passes,
  more of Bach's notes, but nearly the same harmony for every seed
  (``docs/notes/2026-11-28-sessions-12-19-passes-int8-scoring.md``).
- ``independent``: one pass, every unknown note from the same forward pass.
- ``ancestral``: one note per forward pass, in random or chronological order: the exact
  orderless-NADE sample (slow by nature).
- ``confidence``: parallel decoding as in MaskGIT: each pass samples every unknown note and
  keeps the ones the model is surest of, more per pass on a cosine schedule.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F

from counterpoint.errors import ConfigError, MaskError
from counterpoint.limits import MAX_SAMPLE_STEPS
from counterpoint.model.network import Coconet, make_input
from counterpoint.music.representation import NUM_VOICES, PitchRange
from counterpoint.music.rules import PARALLEL_PENALTY, VOICE_RANGES, parallel_pitches
from counterpoint.runtime import int8
from counterpoint.runtime.backend import sampler_network
from counterpoint.sampling.config import Callback, SamplerConfig
from counterpoint.sampling.schedule import (
    CONFIDENCE_PASSES,
    _draft_passes,
    gibbs_passes,
    gibbs_schedule,
    gibbs_temperatures,
)


def voice_range_mask(pitch_range: PitchRange) -> torch.Tensor:
    """``(4, P)`` bool: True where a voice may be written."""
    allowed = torch.zeros(NUM_VOICES, pitch_range.size, dtype=torch.bool)
    for voice, (low, high) in enumerate(VOICE_RANGES):
        lo, hi = max(low, pitch_range.low), min(high, pitch_range.high)
        if lo <= hi:
            allowed[voice, lo - pitch_range.low : hi - pitch_range.low + 1] = True
    return allowed


class _Sampler:
    """The state shared by the methods: model, allowed pitches, per-element generators, and
    which rows of the batch are still being written (``rows``: the callback may drop some)."""

    def __init__(self, model: Coconet, config: SamplerConfig, seeds: list[int], callback: Callback | None):
        self.precision, self.model = sampler_network(model, config.precision)
        self.dtype = torch.bfloat16 if self.precision == "bfloat16" else torch.float32
        self.config = config
        self.generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        self.forbidden = ~voice_range_mask(model.pitch_range)[None, :, None, :]
        self.callback = callback
        self.rows = torch.arange(len(seeds))  # the rows still written, of the whole batch
        # the whole batch's latest pianoroll: the one last reported until a row is dropped
        self.batch: torch.Tensor | None = None

    def logits(self, pianoroll: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 4, T, P)`` in float32, -inf at the pitches a voice may not sing, and
        lowered by :data:`PARALLEL_PENALTY` where a pitch would make parallel fifths or octaves
        with the known notes (``config.avoid_parallels``). (The draw needs no softmax:
        Gumbel-max is invariant to a constant per distribution.)"""
        x = make_input(pianoroll, known).contiguous(memory_format=torch.channels_last)
        logits = self.model(x).float().masked_fill_(self.forbidden, -math.inf)
        if self.config.avoid_parallels:
            sounding = (pianoroll.amax(-1) > 0) & known
            bad = parallel_pitches(pianoroll.argmax(-1).numpy(), sounding.numpy(), logits.shape[-1])
            logits -= PARALLEL_PENALTY * torch.from_numpy(bad)
        return logits

    def draw(self, logits: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """A pitch index per (B, 4, T) from probabilities scaled by ``temperature`` (default:
        the config's), by Gumbel-max."""
        temperature = self.config.temperature if temperature is None else temperature
        if temperature == 0:
            return logits.argmax(-1)
        uniform = self.uniform(logits.shape[1:])
        # Gumbel noise is -log(-log U); torch's exponential_ would skip a log but runs 10x slower
        log_exponential = uniform.clamp_(min=1e-20).log_().neg_().log_()
        return (logits / temperature).sub_(log_exponential).argmax(-1)

    def uniform(self, shape: tuple[int, ...]) -> torch.Tensor:
        """``(B, *shape)`` uniform noise, element b from its own generator."""
        if len(self.generators) == 1:
            return torch.rand(shape, generator=self.generators[0]).unsqueeze(0)
        return torch.stack([torch.rand(shape, generator=g) for g in self.generators])

    def write(self, pianoroll: torch.Tensor, where: torch.Tensor, pitches: torch.Tensor) -> torch.Tensor:
        """Pianoroll with the notes at ``where`` (B,4,T) replaced by ``pitches`` (B,4,T)."""
        new = F.one_hot(pitches, pianoroll.shape[-1]).to(pianoroll.dtype)
        return torch.where(where.unsqueeze(-1), new, pianoroll)

    def report(self, iteration: int, pianoroll: torch.Tensor, rewritten: torch.Tensor) -> torch.Tensor | None:
        """Call the callback with the whole batch (dropped rows as they were last written);
        return its wish over the rows still written: a (rows,) bool tensor, or None (all)."""
        if self.callback is None:
            return None
        if self.batch is None or len(self.rows) == len(self.batch):  # no row dropped: no copy
            self.batch, changed = pianoroll, rewritten
        else:
            self.batch[self.rows] = pianoroll
            changed = torch.zeros(self.batch.shape[:3], dtype=torch.bool)
            changed[self.rows] = rewritten
        wanted = self.callback(iteration, self.batch.float(), changed)
        # only a tensor is a wish: a progress bar's update() returns True or None
        return wanted.bool()[self.rows] if isinstance(wanted, torch.Tensor) else None

    def drop(self, keep: torch.Tensor | None, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Stop writing the rows where ``keep`` is False: their generators go, and ``tensors``
        (one row each along dim 0) come back without them."""
        if keep is None or bool(keep.all()):
            return tensors
        self.rows = self.rows[keep]
        self.generators = [g for g, kept in zip(self.generators, keep.tolist(), strict=True) if kept]
        return tuple(tensor[keep] for tensor in tensors)

    def whole_batch(self, pianoroll: torch.Tensor) -> torch.Tensor:
        """The final pianoroll of the whole batch: the rows written to the end, and the dropped
        ones as they were last reported."""
        if self.batch is None or len(self.rows) == len(self.batch):
            return pianoroll
        self.batch[self.rows] = pianoroll
        return self.batch


def _gibbs(s: _Sampler, pianoroll: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    # the whole batch's pass plan, fixed before any row is dropped: a row's result must not
    # depend on its batch-mates
    counts = (~known).flatten(1).sum(1)
    total = gibbs_passes(s.config, int(counts.max()))
    temperatures = gibbs_temperatures(s.config, int(counts.max()))
    c = s.config
    # pass n erases exactly round(p_n * notes to write) notes per element, at least one: the
    # ones with the lowest random scores. Computed for every pass at once, off the loop.
    fractions = torch.tensor([gibbs_schedule(n, total, c.p_min, c.p_max, c.alpha) for n in range(total)])
    last_erased = (counts[:, None] * fractions[None, :]).round().long().clamp(min=1) - 1  # (B, N)
    if s.config.init_passes:
        pianoroll = _confidence(s, pianoroll, known, s.config.init_passes)
        known, last_erased = known[s.rows], last_erased[s.rows]  # the draft may drop rows
    else:
        pianoroll = s.write(pianoroll, ~known, s.draw(s.logits(pianoroll, known)))
        keep = s.report(0, pianoroll, ~known)
        pianoroll, known, last_erased = s.drop(keep, pianoroll, known, last_erased)
    first = _draft_passes(s.config)  # the number the first Gibbs pass reports
    for n in range(total):
        if not len(s.rows):
            break
        scores = s.uniform(known.shape[1:]).masked_fill_(known, 2.0)
        threshold = scores.flatten(1).sort(1).values.gather(1, last_erased[:, n, None])
        erased = scores <= threshold.view(-1, 1, 1)
        pianoroll = s.write(pianoroll, erased, s.draw(s.logits(pianoroll, ~erased), temperatures[n]))
        keep = s.report(first + n, pianoroll, erased)
        pianoroll, known, last_erased = s.drop(keep, pianoroll, known, last_erased)
    return pianoroll


def _independent(s: _Sampler, pianoroll: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    pianoroll = s.write(pianoroll, ~known, s.draw(s.logits(pianoroll, known)))
    s.report(0, pianoroll, ~known)
    return pianoroll


def _ancestral(s: _Sampler, pianoroll: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    batch, voices, steps = known.shape
    known = known.clone()
    if s.config.order == "chronological":  # step by step, soprano to bass within a step
        priority = torch.arange(steps).view(1, 1, steps) * voices + torch.arange(voices).view(1, voices, 1)
        priority = priority.expand(batch, voices, steps).float()
    else:
        priority = s.uniform((voices, steps))
    priority = priority.masked_fill(known, math.inf).flatten(1)
    order = priority.argsort(1)
    remaining = (~known).flatten(1).sum(1)
    for n in range(int(remaining.max())):
        index = order[:, n]
        active = n < remaining
        where = torch.zeros(batch, voices * steps, dtype=torch.bool)
        where[torch.arange(batch)[active], index[active]] = True
        where = where.view(batch, voices, steps)
        pianoroll = s.write(pianoroll, where, s.draw(s.logits(pianoroll, known)))
        known |= where
        s.report(n, pianoroll, where)
    return pianoroll


def _confidence(
    s: _Sampler, pianoroll: torch.Tensor, known: torch.Tensor, passes: int | None = None
) -> torch.Tensor:
    counts = (~known).flatten(1).sum(1)
    passes = passes or s.config.passes or CONFIDENCE_PASSES
    known = known.clone()
    for n in range(passes):
        log_probs = F.log_softmax(s.logits(pianoroll, known), dim=-1)
        pitches = s.draw(log_probs)
        confidence = log_probs.gather(-1, pitches.unsqueeze(-1)).squeeze(-1)
        confidence = confidence.masked_fill(known, -math.inf).flatten(1)
        # cosine schedule: the share still unknown after pass n
        still_unknown = math.cos(math.pi / 2 * (n + 1) / passes)
        target_known = (counts.float() * (1 - still_unknown)).round().long().clamp(min=1)
        newly = (target_known - (counts - (~known).flatten(1).sum(1))).clamp(min=0)
        if n == passes - 1:
            newly = (~known).flatten(1).sum(1)
        ranks = confidence.argsort(1, descending=True).argsort(1)
        chosen = ((ranks < newly.view(-1, 1)) & (confidence > -math.inf)).view_as(known)
        pianoroll = s.write(pianoroll, chosen, pitches)
        known |= chosen
        keep = s.report(n, pianoroll, chosen)
        pianoroll, known, counts = s.drop(keep, pianoroll, known, counts)
        if not len(s.rows):
            break
    return pianoroll


_METHODS = {"gibbs": _gibbs, "independent": _independent, "ancestral": _ancestral, "confidence": _confidence}


def sample(
    model: Coconet,
    pianoroll: torch.Tensor | np.ndarray,
    known: torch.Tensor | np.ndarray,
    config: SamplerConfig | None = None,
    seeds: list[int] | int = 0,
    callback: Callback | None = None,
) -> torch.Tensor:
    """Fill the unknown notes (``known == False``) of a batch of pianorolls ``(B, 4, T, P)``.

    ``seeds`` is one seed per element (or one int: element b uses ``seed + b``). Returns the
    completed pianorolls; known notes are returned unchanged."""
    config = config or SamplerConfig()
    pianoroll = torch.as_tensor(
        np.asarray(pianoroll) if not torch.is_tensor(pianoroll) else pianoroll
    ).float()
    known = torch.as_tensor(np.asarray(known) if not torch.is_tensor(known) else known).bool()
    if pianoroll.ndim != 4 or known.shape != pianoroll.shape[:3] or pianoroll.shape[1] != NUM_VOICES:
        raise MaskError(
            f"expected pianoroll (B,4,T,P) and mask (B,4,T), "
            f"got {tuple(pianoroll.shape)} and {tuple(known.shape)}"
        )
    if pianoroll.shape[-1] != model.pitch_range.size:
        raise MaskError(f"pianoroll has {pianoroll.shape[-1]} pitches, the model {model.pitch_range.size}")
    if pianoroll.shape[2] > MAX_SAMPLE_STEPS:
        steps = pianoroll.shape[2]
        raise MaskError(f"{steps} steps is longer than the {MAX_SAMPLE_STEPS} a request may have")
    if known.flatten(1).all(1).any():
        raise MaskError("the mask leaves nothing to write")
    batch = pianoroll.shape[0]
    seeds = [seeds + b for b in range(batch)] if isinstance(seeds, int) else list(seeds)
    if len(seeds) != batch:
        raise ConfigError(f"{len(seeds)} seeds for a batch of {batch}")
    sampler = _Sampler(model, config, seeds, callback)
    given = pianoroll.clone()
    # with ONNX Runtime doing the passes, torch's small ops between them run best on one thread
    threads = int8.torch_threads(1) if sampler.precision == "int8" else contextlib.nullcontext()
    with threads, torch.inference_mode():  # the pianoroll stays in the network's dtype: one-hot is exact
        start = (pianoroll * known.unsqueeze(-1)).to(sampler.dtype)
        result = sampler.whole_batch(_METHODS[config.method](sampler, start, known))
    return torch.where(known.unsqueeze(-1), given, result)  # a normal tensor again
