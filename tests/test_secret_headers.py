"""A key a server echoes in its response headers: masked in the trace, the call detail and what is filed (a mutation the suite missed, issue 25)."""

from __future__ import annotations

import json

from loopback import LoopbackServer, chat_answer

from guide import Guide, Trace
from guide.wire_text import response_text

KEY = "sk-proj-ECHOED-in-a-header-7a9c0ffee"
MASKED = "••••ffee"


def test_a_key_echoed_in_a_response_header_is_masked_in_the_trace_and_the_call_detail() -> None:
    answer = chat_answer("Hello.")
    answer.headers = {"x-echo-authorization": f"Bearer {KEY}", "x-request-key": KEY}
    traces: dict[str, Trace] = {}
    with (
        LoopbackServer(api_key=KEY) as server,
        Guide(base_url=server.url, api_key=KEY, model="loopback-model", on_trace=lambda t: traces.setdefault(t.id, t)) as ai,
    ):
        server.push(answer)
        assert ai.think("Hi").text == "Hello."
    (trace,) = traces.values()
    shown = response_text(trace)  # the call detail's response tab (F2)
    filed = json.dumps(trace.to_dict(), ensure_ascii=False)  # what the store keeps
    for text in (shown, filed, repr(trace.response_headers)):
        assert KEY not in text
    # The headers are kept, masked: the test would pass vacuously if they were dropped.
    assert trace.response_headers["x-echo-authorization"] == f"Bearer {MASKED}"
    assert MASKED in shown and MASKED in filed
