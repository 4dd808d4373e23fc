"""Every size limit in one place. Each guards something different, so each has its own name:

- a file may hold up to :data:`MAX_FILE_STEPS` steps (anything longer is not a chorale but a
  broken or hostile file);
- one sampling call writes up to :data:`MAX_SAMPLE_STEPS` steps (64 measures: well beyond a
  chorale, still quick on a CPU);
- one request to the server carries up to :data:`MAX_REQUEST_STEPS` steps (32 measures: what
  the web page edits, and what one shared worker writes without holding others up), in a body
  of at most :data:`MAX_BODY_BYTES`, and asks for at most :data:`MAX_ALTERNATIVES` pieces.
"""

from __future__ import annotations

MAX_FILE_STEPS = 16 * 1024  # far beyond any chorale; guards against absurd files
MAX_SAMPLE_STEPS = 1024  # 64 measures: well beyond a chorale, still quick on a CPU
MAX_REQUEST_STEPS = 8 * 16 * 4  # 32 measures

# a request body (JSON or an uploaded file): far beyond any chorale
MAX_BODY_BYTES = 512 * 1024
MAX_ALTERNATIVES = 4  # alternatives one request may ask for (one batched call)
