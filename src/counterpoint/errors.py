"""Exception classes: every problem a user can cause has its own, with a one-line message.

The CLI turns any :class:`CounterpointError` into that line on stderr and exit status 2; the
server turns it into an HTTP 4xx JSON error. Anything else is a bug.
"""


class CounterpointError(Exception):
    """Base class of every error caused by the user's input."""


class ShapeError(CounterpointError, ValueError):
    """An array is not the shape or type a chorale, pianoroll or mask must have."""


class PitchOutOfRangeError(CounterpointError, ValueError):
    """A pitch lies outside the range the model (or a voice) can use."""


class FileFormatError(CounterpointError, ValueError):
    """A file is corrupt, empty, of an unknown type, or holds something other than expected."""


class NotMonophonicError(FileFormatError):
    """A melody has chords where one line is expected."""


class MultipleVoicesError(NotMonophonicError):
    """A file expected to hold one melody holds several voices."""


class TooManyVoicesError(FileFormatError):
    """A file holds more than four voices."""


class MissingFileError(CounterpointError, FileNotFoundError):
    """A path the user gave does not exist."""


class CheckpointError(CounterpointError, ValueError):
    """A file is not a counterpoint checkpoint, or comes from an incompatible version."""


class ConfigError(CounterpointError, ValueError):
    """An unknown preset, option or setting."""


class MaskError(CounterpointError, ValueError):
    """A mask is malformed or leaves nothing to write."""
