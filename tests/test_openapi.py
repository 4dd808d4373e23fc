"""The OpenAPI spec is the truth: schemathesis generates requests from it (valid ones and, in
its negative mode, invalid ones) and sends them to a real `counterpoint serve` with a tiny model,
checking that no response is a server error and that every status code, content type, header
and JSON body the server answers with is the one the spec documents. A few examples per
endpoint keep it under a minute.

What the spec cannot express, so these checks leave out (the server refuses such requests with a
documented 422, and tests/test_server.py covers each): a chorale whose given voices have a note
(harmonize), a mask shaped like its chorale (infill), onsets shaped like their chorale (export),
given notes that fit the voices' ranges after an octave shift, and an upload that is a readable
MIDI or MusicXML file. So schemathesis's ``positive_data_acceptance`` check (a schema-valid body
must succeed) is not run. The lines of a stream (``application/x-ndjson``) are documented as
one JSON schema per line, which schemathesis does not parse: tests/test_server.py reads them.
Past ``MAX_CONNECTIONS`` open connections uvicorn itself answers a plain-text 503, before the
app (and its spec) is reached."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from servers import running_server

from counterpoint.model.checkpoint import save
from counterpoint.model.network import Coconet, preset
from counterpoint.server import ServerSettings, create_app


def no_server_error(ctx, response, case):
    """No 5xx but the documented 503 (the queue is full, or the time limit: its JSON error is
    held to the spec by ``response_schema_conformance``)."""
    if response.status_code == 503:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    checkpoint = tmp_path_factory.mktemp("openapi") / "tiny.pt"
    save(checkpoint, Coconet(preset("tiny")).eval())
    # a short time limit: schemathesis asks for 32 measures of 2000 passes, and gets a 503
    with running_server(checkpoint, "--time-limit", "1") as server:
        yield server.url


# the spec the server writes (a tiny model's app writes the same one as the served server's)
schema = schemathesis.openapi.from_dict(create_app(ServerSettings(), model=Coconet(preset("tiny"))).openapi())


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_response_is_documented(case, server_url):
    case.call_and_validate(base_url=server_url, checks=CHECKS)
