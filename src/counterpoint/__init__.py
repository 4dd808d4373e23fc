"""counterpoint: Coconet ("Counterpoint by Convolution") for four-voice Bach chorales.

The Python API in a few names::

    import counterpoint as cp
    model = cp.load_model()                      # the shipped model (or a checkpoint path)
    melody = cp.read_melody("melody.mid")
    result = cp.harmonize(model, melody, seed=1)  # soprano given, alto/tenor/bass written
    cp.write_chorale(result.chorale, "out.mid")

Modules, one idea each: representation (the chorale array and the pianoroll), data
(datasets and batches), io (MIDI/MusicXML/arrays), masks, model, training, sampling, tasks,
evaluation, cli, server.
"""

from counterpoint.io import read_chorale, read_melody, write_chorale
from counterpoint.model import load, load_model
from counterpoint.representation import SILENCE, VOICES, from_pianoroll, to_pianoroll
from counterpoint.sampling import SamplerConfig, sample
from counterpoint.tasks import compose, continue_piece, harmonize, infill, transition

__version__ = "0.1.0"

__all__ = [
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
    "sample",
    "to_pianoroll",
    "transition",
    "write_chorale",
]
