"""counterpoint: Coconet ("Counterpoint by Convolution") for four-voice Bach chorales.

The Python API in a few names::

    import counterpoint as cp
    model = cp.load_model()                      # the shipped model (or a checkpoint path)
    melody = cp.read_piece("melody.mid")          # a Piece: pitches, onset, metre, key, title
    result = cp.harmonize(model, melody, seed=1)  # soprano given, alto/tenor/bass written
    cp.write_piece(result.piece(melody), "out.mid")  # the melody's notes exactly as written

Arrays work too: ``cp.read_melody``/``cp.read_chorale`` return pitches, ``cp.harmonize`` takes
them with an optional ``onset``, ``cp.write_chorale`` writes them.

The package, in layers (each imports only the layers below it; tests/test_layout.py checks):

- ``cli`` (the command line), ``server`` (the JSON API and the page);
- ``evaluation`` (likelihood, the paper's protocol, musical quality, caches, the report);
- ``training`` (config and recipes, objective, loop) and ``tasks`` (compose, harmonize, ...);
- ``sampling`` (config, schedule, samplers), ``runtime`` (float32, bfloat16 or int8);
- ``data`` (datasets, batches, masks), ``model`` (network and presets, checkpoints, the shipped
  models), ``io`` (MIDI, MusicXML, arrays), ``music`` (representation, notes, rules);
- ``limits`` and ``errors``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from counterpoint.io import read_chorale, read_melody, read_piece, write_chorale, write_piece
    from counterpoint.model.checkpoint import load
    from counterpoint.model.registry import load_model
    from counterpoint.music.piece import Piece
    from counterpoint.music.representation import SILENCE, VOICES, from_pianoroll, to_pianoroll
    from counterpoint.sampling.config import SamplerConfig
    from counterpoint.sampling.samplers import sample
    from counterpoint.tasks import compose, continue_piece, harmonize, infill, transition

# Each public name and the module that defines it. They are imported on first use (PEP 562), so
# that `import counterpoint` and `counterpoint --help` do not pay for torch (about 3 s on a
# slow CPU) until a name that needs it is used.
_EXPORTS = {
    "read_chorale": "io",
    "read_melody": "io",
    "write_chorale": "io",
    "read_piece": "io",
    "write_piece": "io",
    "Piece": "music.piece",
    "load": "model.checkpoint",
    "load_model": "model.registry",
    "SILENCE": "music.representation",
    "VOICES": "music.representation",
    "from_pianoroll": "music.representation",
    "to_pianoroll": "music.representation",
    "SamplerConfig": "sampling.config",
    "sample": "sampling.samplers",
    "compose": "tasks",
    "continue_piece": "tasks",
    "harmonize": "tasks",
    "infill": "tasks",
    "transition": "tasks",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'counterpoint' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"counterpoint.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__version__ = "0.1.0"

__all__ = [
    "Piece",
    "SILENCE",
    "VOICES",
    "SamplerConfig",
    "compose",
    "continue_piece",
    "from_pianoroll",
    "harmonize",
    "infill",
    "load",
    "load_model",
    "read_chorale",
    "read_melody",
    "read_piece",
    "sample",
    "to_pianoroll",
    "transition",
    "write_chorale",
    "write_piece",
]
