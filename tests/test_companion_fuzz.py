"""The companion takes arbitrary JSON bodies and headers calmly: a JSON answer, never a traceback or a dropped server."""

from __future__ import annotations

from typing import Any

import httpx
from fuzzing import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guide import ACTIONS

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["model", "messages", "prompt", "input", "stream", "stream_options", "temperature", "max_tokens", "voice", "encoding_format"]
)
BODIES = st.dictionaries(FIELDS, JSON, max_size=6) | JSON
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30)


POSTS = [row for row in ACTIONS.values() if row.method == "POST"]


@settings(max_examples=examples(150, 50), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.sampled_from(POSTS), body=BODIES, header=HEADER_TEXT)
def test_arbitrary_json_gets_a_json_answer_and_the_server_goes_on(companion: str, row: Any, body: Any, header: str) -> None:
    with httpx.Client(timeout=30) as client:
        answer = client.post(companion + row.legacy_path, json=body, headers={"x-anything": header, "authorization": f"Bearer {header}"})
        if answer.status_code == 200:
            assert answer.headers["content-type"].split(";")[0] in ("application/json", "text/event-stream", "audio/wav")
        else:
            assert 400 <= answer.status_code < 600
            error = answer.json()["error"]
            assert set(error) == {"message", "type", "param", "code"}
            assert "Traceback" not in answer.text
        assert client.get(companion + ACTIONS["catalog"].legacy_path).status_code == 200
