"""No request, however malformed, gets a traceback or a response without the AWS error shape."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chime_bulk.emulator import Emulator, RateLimit

GUID = "00000000-0000-4000-8000-000000000000"
SEGMENTS = st.sampled_from(
    ["meetings", "attendees", "capabilities", "tags", "transcription", GUID, "x", "%ff", ""]
)
PATHS = st.lists(SEGMENTS, max_size=6).map(lambda parts: "/" + "/".join(parts))
QUERIES = st.sampled_from(
    ["", "?operation=batch-update-except", "?operation=batch-create", "?max-results=abc",
     "?max-results=0", "?next-token=%%", "?arn=arn:x", "?operation=create-attendees"]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
BODIES = st.one_of(st.binary(max_size=40), JSON.map(lambda v: json.dumps(v).encode()))
SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=A/20250101/us-east-1/chime/aws4_request"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    emu = Emulator(rates={"*": RateLimit(0, 0)})
    with emu:
        emu.seed(meetings=1, attendees=2)
        yield emu


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=PATHS,
    query=QUERIES,
    body=BODIES,
)
def test_random_requests_get_aws_shaped_answers(
    emulator: Emulator, method: str, path: str, query: str, body: bytes
) -> None:
    """Random methods, paths, queries and bodies: every error is JSON {Code, Message,
    RequestId} with x-amzn-ErrorType and x-amzn-RequestId, and nothing fails inside."""
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    try:
        connection.request(method, path + query, body=body, headers=SIGNED)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    assert response.getheader("x-amzn-RequestId")
    assert response.status < 500, raw
    if response.status >= 400:
        document = json.loads(raw)
        assert set(document) == {"Code", "Message", "RequestId"}
        assert response.getheader("x-amzn-ErrorType")
    emulator.raise_serving_error()
