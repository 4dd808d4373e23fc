"""Writing files safely: an atomic write (a temporary file renamed onto the target, so a failed
write never leaves half a file) and the check that an input file exists."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from counterpoint.errors import (
    FileFormatError,
    MissingFileError,
)


def existing_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    if not path.is_file():
        raise FileFormatError(f"{path}: not a file")
    return path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)``, then rename the result onto ``path`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes files private; outputs are not
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
