"""Server-Sent Events by the WHATWG rules, however the bytes are split."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guide import GuideError
from guide.client import ServerSentEvent, SSEDecoder
from guide.client._results import Answer
from guide.client._stream import StreamReader
from guide.client._trace import Trace


def decode(*pieces: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.close()


@pytest.mark.parametrize("ending", ["\n", "\r", "\r\n"])
def test_lf_cr_and_crlf_all_end_lines(ending: str) -> None:
    text = f"data: one{ending}{ending}data: two{ending}{ending}"
    assert [e.data for e in decode(text)] == ["one", "two"]


def test_a_crlf_split_between_pieces_is_one_line_end() -> None:
    assert [e.data for e in decode("data: one\r", "\n\r", "\ndata: two\r\n\r\n")] == ["one", "two"]


def test_comment_lines_are_ignored() -> None:
    assert [e.data for e in decode(": keep-alive\n\n: ping\ndata: x\n\n")] == ["x"]


def test_data_lines_join_with_newlines() -> None:
    assert decode("data: first\ndata: second\ndata\n\n")[0].data == "first\nsecond\n"


def test_only_one_space_after_the_colon_is_dropped() -> None:
    assert decode("data:  two spaces\n\ndata:none\n\n")[0].data == " two spaces"
    assert decode("data:none\n\n")[0].data == "none"


def test_event_names_ids_and_retry_are_read() -> None:
    event = decode("event: error\nid: 7\nretry: 300\ndata: {}\n\n")[0]
    assert (event.event, event.id, event.retry, event.data) == ("error", "7", 300, "{}")
    assert decode("data: plain\n\n")[0].event == "message"


def test_unknown_fields_and_empty_events_dispatch_nothing() -> None:
    assert decode("foo: bar\n\nevent: x\n\n") == []


def test_a_byte_order_mark_at_the_start_is_dropped() -> None:
    assert decode("\ufeffdata: x\n\n")[0].data == "x"


def test_a_last_event_without_its_blank_line_is_kept() -> None:
    assert [e.data for e in decode("data: a\n\ndata: [DONE]")] == ["a", "[DONE]"]


EVENTS = st.lists(
    st.fixed_dictionaries(
        {
            "data": st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",))), min_size=1, max_size=3),
            "event": st.sampled_from(["", "message", "delta", "error"]),
        }
    ),
    min_size=1,
    max_size=8,
)


def encode(events: list[dict[str, object]], ending: str) -> str:
    out = []
    for event in events:
        if event["event"]:
            out.append(f"event: {event['event']}{ending}")
        out.extend(f"data: {line}{ending}" for line in event["data"])  # type: ignore[attr-defined]
        out.append(ending)
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(events=EVENTS, ending=st.sampled_from(["\n", "\r", "\r\n"]), cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_valid_streams_reassemble_exactly_however_they_are_split(events: list[dict[str, object]], ending: str, cuts: list[int]) -> None:
    text = encode(events, ending)
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]
    got = decode(*pieces)
    assert [e.data for e in got] == ["\n".join(e["data"]) for e in events]  # type: ignore[arg-type]
    assert [e.event for e in got] == [e["event"] or "message" for e in events]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_arbitrary_bytes_never_hang_and_raise_nothing_but_guide_errors(data: bytes, cuts: list[int]) -> None:
    text = data.decode("utf-8", "replace")
    points = sorted({c % (len(text) + 1) for c in cuts})
    reader = StreamReader("chat", Answer(), Trace("think", "POST", "http://x/v1/chat/completions"), 0.0)
    try:
        for a, b in zip([0, *points], [*points, len(text)]):
            reader.feed(text[a:b])
        reader.finish()
    except GuideError:
        pass


def test_the_reader_records_frames_and_stops_at_done() -> None:
    trace = Trace("think", "POST", "http://x/v1/chat/completions")
    answer = Answer()
    reader = StreamReader("chat", answer, trace, 0.0)
    chunk = json.dumps({"choices": [{"delta": {"content": "hi"}, "finish_reason": None}]})
    assert reader.feed(f"data: {chunk}\n\ndata: [DONE]\n\ndata: {chunk}\n\n") == ["hi"]
    reader.finish()
    assert answer.done and [text for _, text in trace.frames] == [chunk, "[DONE]"]


@pytest.mark.parametrize("reader_kind", ["chat", "response"])
def test_frames_are_read_as_json_loads_reads_them_space_around_accepted_trailing_words_refused(reader_kind: str) -> None:
    # The readers parse frames on a faster path than json.loads (raw_decode): what it accepts and refuses must stay the same.
    from guide.client._errors import ReplyNotUnderstood
    from guide.client._events import EventReader

    if reader_kind == "chat":
        frame = json.dumps({"choices": [{"delta": {"content": "hi"}, "finish_reason": None}]})
    else:
        frame = json.dumps({"type": "response.output_text.delta", "delta": "hi"})

    def reader() -> StreamReader:
        kind = EventReader if reader_kind == "response" else StreamReader
        return kind(reader_kind, Answer(), Trace("think", "POST", "http://x/v1/chat/completions"), 0.0)  # type: ignore[arg-type]

    assert reader().feed(f"data:  \t{frame} \t\n\n") == ["hi"]
    with pytest.raises(ReplyNotUnderstood):
        reader().feed(f"data: {frame} and more\n\n")
    with pytest.raises(ReplyNotUnderstood):
        reader().feed(f"data: {frame}{frame}\n\n")
