"""Reading what the app shows, as a newcomer does (issue 14): every line reachable, copyable, findable, meaningful.

Pilot drives the real app against loopback servers (and the real companion
where its hashed vectors matter), as a user would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from loopback import LoopbackServer
from textual.pilot import Pilot
from tui_helpers import command, run_app, settle, stored_id, transcript_text, type_and_send

from guide.store import Store
from guide.tui.app import GuideApp


def make_app(url: str, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": url, **flags})


def notices(app: GuideApp) -> list[str]:
    return [n.message for n in app.recent.said]


# /understand says something about the vectors (item 15).


def test_understand_shows_size_norm_largest_components_and_similarity_in_words(companion: str) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await command(pilot, "/understand a quiet lake | a calm lake")
        block = app.chat.transcript.views[-1]
        return block.text, stored_id(app)  # type: ignore[union-attr]

    shown, _ = run_app(make_app(companion), script)
    assert "0.0000, 0.0000" not in shown
    assert "Cosine similarity of the two: **0.6667** — somewhat related" in shown
    assert shown.count("256 dimensions · norm 1.0000 · 3 non-zero") == 2
    assert shown.count("Largest components (by size): `[") == 2 and "+0.5774" in shown

    async def resumed(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        await command(pilot, "/export")
        exported = next(m for m in notices(app) if m.startswith("Exported to ")).removeprefix("Exported to ")
        return app.chat.transcript.views[-1].text, Path(exported).read_text()  # type: ignore[union-attr]

    again, exported = run_app(make_app(companion), resumed)
    assert again == shown
    assert shown in exported


# F4: delete asks first; rename holds the title, in place (items 2 and 16).


def test_delete_asks_first_and_n_or_escape_keeps_the_conversation(server: LoopbackServer) -> None:
    from guide.tui.screens.confirm import Confirm
    from guide.tui.screens.conversations import ConversationsScreen

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "keep me please")
        kept = []
        for no in ("n", "escape"):
            await pilot.press("f4")
            await settle(pilot)
            await pilot.press("d")
            await settle(pilot)
            assert isinstance(app.screen, Confirm)
            asked = str(app.screen.query_one(".picker-title").render())
            await pilot.press(no)
            await settle(pilot)
            assert isinstance(app.screen, ConversationsScreen)  # back in the list, nothing gone
            await pilot.press("escape")
            await settle(pilot)
            kept.append(len(Store().conversations()))
        return asked, kept, transcript_text(app)

    asked, kept, shown = run_app(make_app(server.url, model="loopback-model"), script)
    assert asked == "Delete «keep me please»?"
    assert kept == [1, 1]
    assert [text for _, _, text in shown[1:]] == ["keep me please", "You said: keep me please"]


def test_delete_with_y_removes_the_open_conversation_and_a_fresh_one_begins(server: LoopbackServer) -> None:
    from textual.widgets import DataTable

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "forget me")
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot, 0.2)
        listed = [str(app.screen.query_one(DataTable).get_row_at(0)[0])]
        await pilot.press("escape")  # the list stayed open, saying what is left
        await settle(pilot)
        return listed, app.screen is app.chat, transcript_text(app), notices(app)

    listed, on_chat, shown, told = run_app(make_app(server.url, model="loopback-model"), script)
    assert listed == ["No conversations yet."]
    assert on_chat and [role for role, _, _ in shown] == ["greeting"]
    assert Store().conversations() == []
    assert "Deleted “forget me”. It was open: a fresh conversation begins." in told


def test_rename_opens_at_the_top_holding_the_title_selected_and_typing_replaces_it(server: LoopbackServer) -> None:
    from textual.widgets import DataTable, Input

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "a long first title")
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        field = app.screen.query_one("#rename-input", Input)
        table = app.screen.query_one(DataTable)
        seen = field.value, field.has_focus, tuple(field.selection), field.region.y < table.region.y
        await pilot.press("escape")  # Esc leaves the field; the old title stays and the list stays open
        await settle(pilot)
        left = field.display, table.has_focus, [c.title for c in Store().conversations()]
        await pilot.press("r", "c", "a", "l", "m", "enter")
        await settle(pilot)
        stored = stored_id(app)
        return seen, left, [c.title for c in Store().conversations()], stored

    seen, left, titles, _ = run_app(make_app(server.url, model="loopback-model"), script)
    assert seen == ("a long first title", True, (0, len("a long first title")), True)
    assert left == (False, True, ["a long first title"])
    assert titles == ["calm"]


# The call, whole: unwrapped, every line reachable, c copies the whole tab (item 4).

CALL_TABS = ("gentle", "request", "response", "timings", "curl", "python", "node")


def on_screen(widget: Any) -> list[str]:
    """The lines a widget shows now, as the screen draws them."""
    region = widget.scrollable_content_region
    strips = widget.screen._compositor.render_strips()
    return [strips[y].crop(region.x, region.right).text.rstrip() for y in range(region.y, region.bottom)]


def test_the_call_tabs_show_long_lines_unwrapped_every_line_reachable_and_c_copies_the_whole_tab(server: LoopbackServer) -> None:
    from textual.widgets import TabbedContent

    from guide.tui.screens.call_detail import CallDetail

    long = "lake " * 399 + "end."  # 2,000 characters

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await command(pilot, long)
        await pilot.press("f2", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CallDetail)
        seen = {}
        for key in CALL_TABS:
            screen.query_one(TabbedContent).active = f"tab-{key}"
            await settle(pilot)
            area = screen.query_one(f"#text-{key}")
            own = screen.texts[key]
            width = area.scrollable_content_region.width
            first = on_screen(area)
            area.scroll_end(animate=False, immediate=True)
            await pilot.pause()
            last = on_screen(area)
            area.scroll_to(x=area.max_scroll_x, animate=False, immediate=True)
            await pilot.pause()
            right = on_screen(area)
            await pilot.press("c")
            await pilot.pause()
            seen[key] = own, width, first, last, right, app.clipboard
            area.scroll_home(animate=False, immediate=True)
        return seen

    seen = run_app(make_app(server.url, model="loopback-model"), script, size=(80, 24))
    for key, (own, width, first, last, _right, copied) in seen.items():
        lines = own.splitlines()
        assert first == [line[:width].rstrip() for line in lines[: len(first)]] + [""] * (len(first) - len(lines)), key  # the text's own lines
        assert lines[-1].rstrip() in last, key  # the last line can be scrolled into view
        assert copied == own, key  # c copies the whole tab, not what shows
    for key in ("request", "curl"):
        own, width, _, _, right, _ = seen[key]
        longest = max(own.splitlines(), key=len)
        assert len(longest) > 2000 and any(line.endswith(longest.rstrip()[-width // 2 :]) for line in right), (
            key
        )  # scrolled right, the long line's end shows


# Copying one message, one code block, the last reply; and a file beside OSC 52 (item 5).

CODE_REPLY = "Two ways:\n\n```python\nprint('one')\n```\n\nor\n\n~~~sh\necho two\necho 'and more'\n~~~\n\nEither works."


def clipboard_file() -> Path:
    from guide.locations import data_dir

    return data_dir() / "clipboard.txt"


def test_the_second_message_is_chosen_with_up_and_y_copies_exactly_it_to_the_clipboard_and_the_file(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "first words")
        await type_and_send(pilot, "second words")
        await pilot.press("tab")  # from the composer to the transcript
        await pilot.press("up", "up", "up", "y")  # the last message, then two before it: the first reply
        await settle(pilot)
        chosen = [v.text for v in app.chat.query(".selected")]  # type: ignore[attr-defined]
        return chosen, app.clipboard, notices(app)

    chosen, copied, told = run_app(make_app(server.url, model="loopback-model"), script)
    assert chosen == ["You said: first words"]
    assert copied == "You said: first words"
    assert clipboard_file().read_text() == copied
    assert clipboard_file().stat().st_mode & 0o777 == 0o600
    assert f"Copied the message (21 characters); this run has no terminal to copy into, so it is saved in {clipboard_file()}." in told


def test_b_copies_only_the_code_of_the_chosen_message_the_last_block_first(server: LoopbackServer) -> None:
    from loopback import Stream, chat_chunk, sse

    server.push(Stream(sse(chat_chunk(CODE_REPLY), chat_chunk(finish="stop"))))

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "show me code")
        await pilot.press("tab", "up", "b")
        await settle(pilot)
        last = app.clipboard
        await pilot.press("b")
        await settle(pilot)
        return last, app.clipboard, clipboard_file().read_text()

    last, first, saved = run_app(make_app(server.url, model="loopback-model"), script)
    assert last == "echo two\necho 'and more'"
    assert first == saved == "print('one')"


def test_ctrl_y_still_copies_the_last_reply_and_saves_it_too(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "copy me")
        await pilot.press("ctrl+y")
        await settle(pilot)
        return app.clipboard

    assert run_app(make_app(server.url, model="loopback-model"), script) == "You said: copy me" == clipboard_file().read_text()


@pytest.mark.parametrize(
    ("environ", "tmux", "doubt"),
    [
        ({"TERM_PROGRAM": "Apple_Terminal"}, "", "macOS Terminal ignores OSC 52"),
        ({"TMUX": "/tmp/tmux-0/default,1,0"}, "external", "set-clipboard on (it is external here)"),
        ({"TMUX": "/tmp/tmux-0/default,1,0"}, "on", ""),
        ({"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, "", ""),
    ],
)
def test_what_can_be_told_about_the_terminal_is_said(environ: dict[str, str], tmux: str, doubt: str) -> None:
    from guide.tui.clipboard import osc52_doubt

    said = osc52_doubt(environ, headless=False, tmux_setting=tmux)
    assert doubt in said and bool(said) == bool(doubt)


# Find as you type; the status only ever about the words in the field (item 16).


def find_status(app: GuideApp) -> str:
    return str(app.chat.query_one("#find-where").render())


def test_find_shows_matches_as_you_type_and_its_status_is_never_about_other_words(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "a quiet lake")
        await type_and_send(pilot, "the lake at dawn")
        await pilot.press("ctrl+f")
        await settle(pilot)
        await pilot.press("z", "e", "b", "r", "a")  # no Enter
        await settle(pilot, 0.3)
        zebra = find_status(app)
        await pilot.press(*["backspace"] * 5, "l", "a", "k", "e")
        between = find_status(app)  # before or after the search: never about zebra
        await settle(pilot, 0.3)
        lake = find_status(app), app.chat.transcript.current.content if app.chat.transcript.current else None
        await pilot.press("enter")  # Enter: the next match
        await settle(pilot)
        following = find_status(app), app.chat.transcript.current.content if app.chat.transcript.current else None
        return zebra, between, lake, following

    zebra, between, lake, following = run_app(make_app(server.url, model="loopback-model"), script)
    assert zebra == "No message holds “zebra”."
    assert "zebra" not in between
    assert lake == ("4 of 4 · You said: the lake at dawn", "You said: the lake at dawn")
    assert following == ("3 of 4 · the lake at dawn", "the lake at dawn")


# Long code lines in replies scroll sideways (item 16).


def test_a_long_code_line_in_a_reply_scrolls_sideways_to_its_end_at_80_columns(server: LoopbackServer) -> None:
    from loopback import Stream, chat_chunk, sse
    from textual.widgets.markdown import MarkdownFence

    line = "x = [" + ", ".join(f"{n:03d}" for n in range(38)) + "] # end"  # 200 characters
    assert len(line) == 200
    server.push(Stream(sse(chat_chunk(f"Here:\n\n```python\n{line}\n```\n"), chat_chunk(finish="stop"))))

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "a long line please")
        fence = app.chat.transcript.views[-1].query_one(MarkdownFence)
        before = on_screen(fence)
        bar = fence.scrollbar_size_horizontal
        await pilot.press("tab", "up", *["right"] * 12)
        await settle(pilot)
        return before, bar, on_screen(fence), fence.scroll_x, fence.max_scroll_x

    before, bar, after, x, furthest = run_app(make_app(server.url, model="loopback-model"), script, size=(80, 24))
    assert not any("# end" in row for row in before)  # cut at first, as the newcomer saw
    assert bar == 1  # a scrollbar says there is more
    assert x == furthest > 0
    assert any(row.endswith("# end") for row in after)
