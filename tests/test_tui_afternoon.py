"""Issue 26, what a new user hit in a full afternoon: focus after dialogs, notices, the transcript, the persona form."""

from __future__ import annotations

from typing import Any

from loopback import LoopbackServer
from textual import events
from textual.pilot import Pilot
from tui_helpers import run_app, settle, type_and_send, wait_for_modal

from guide.tui.app import GuideApp

KEYS = {"enter": "\r", "backspace": "\x7f", "space": " "}


def make_app(server: LoopbackServer, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model", **flags})


def burst(app: GuideApp, *keys: str) -> None:
    """Keys as a terminal sends them typed fast (or through tmux): all queued before the first is handled."""
    for key in keys:
        app.post_message(events.Key(key, KEYS.get(key, key)))


async def until(pilot: Pilot[None], done: Any, tries: int = 200) -> bool:
    for _ in range(tries):
        await pilot.pause(0.02)
        if done():
            return True
    return False


def said(app: GuideApp) -> list[str]:
    return [turn.content for turn in app.session.conversation.turns if turn.role == "user"]


# Item 2: focus after a dialog.


def test_after_a_call_opened_from_the_panel_every_key_typed_goes_to_the_composer(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "one")
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("enter")  # the call opens
        await wait_for_modal(pilot)
        await pilot.press("escape")
        await settle(pilot)
        burst(app, "a", "b", "c", "backspace", "enter")
        await until(pilot, lambda: "ab" in said(app))
        await settle(pilot)
        return said(app), app.screen is app.chat, app.focused is app.chat.composer

    sent, on_chat, composer_focused = run_app(make_app(server), script, size=(100, 30))
    assert sent == ["one", "ab"]  # Backspace and Enter reached the composer, where the letters went
    assert on_chat and composer_focused  # the call did not open again


def test_the_pane_with_the_keys_is_marked_and_only_a_call_gives_focus_back_to_the_panel(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        title = app.chat.panel
        await type_and_send(pilot, "one")
        await pilot.press("d", "r", "a", "f", "t")
        composer_look = (title.styles.border_left, app.chat.composer.styles.border_top)
        await pilot.press("f2")  # the calls list
        await settle(pilot)
        panel_look = (title.styles.border_left, app.chat.composer.styles.border_top)
        await pilot.press("f1")  # another dialog, opened from the panel
        await wait_for_modal(pilot)
        await pilot.press("escape")
        await settle(pilot)
        focused = app.focused is app.chat.composer
        await pilot.press("backspace", "backspace", "x")  # into the draft left in the composer
        return composer_look, panel_look, focused, app.chat.composer.text

    composer_look, panel_look, composer_focused, text = run_app(make_app(server), script, size=(100, 30))
    assert composer_look[0] != panel_look[0] and composer_look[1] != panel_look[1]
    assert composer_focused and text == "drax"


# Item 6: what the user wrote, shown as written; a picture attached once; the composer's words fit.


def test_line_breaks_in_a_message_show_as_the_user_wrote_them(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.focus()
        await pilot.press("r", "o", "s", "e", "s", "ctrl+j", "v", "i", "o", "l", "e", "t", "s", "enter")
        await settle(pilot, 0.3)
        asked = app.chat.transcript.last_message("user")
        assert asked is not None
        return [str(block.render()) for block in asked.body.query("MarkdownParagraph")]

    shown = run_app(make_app(server), script, size=(100, 30))
    assert shown == ["roses\nviolets"]  # Markdown's soft break made it "roses violets"


def test_attaching_the_same_picture_twice_attaches_it_once_and_says_so(server: LoopbackServer, tmp_path: Any) -> None:
    from loopback import PNG_1x1
    from tui_helpers import command

    lake = tmp_path / "lake.png"
    lake.write_bytes(PNG_1x1)

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await command(pilot, f"/attach {lake}")
        await command(pilot, f"/attach {lake}")
        notes = [n.message for n in app.recent.said]
        await type_and_send(pilot, "What is this?")
        await settle(pilot, 0.3)
        return notes

    notes = run_app(make_app(server), script)
    content = server.requests[-1].json["messages"][-1]["content"]
    assert [part["type"] for part in content] == ["text", "image_url"]
    assert any("already attached" in note for note in notes), notes


def test_the_composer_says_a_reply_is_streaming_within_80_columns(server: LoopbackServer) -> None:
    from loopback import Stream, chat_chunk, sse
    from rich.cells import cell_len

    server.push(Stream(sse(*[chat_chunk(f"w{i} ") for i in range(40)], chat_chunk(finish="stop")), pause=0.05))

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        app.chat.composer.focus()
        await pilot.press("h", "i", "enter")
        await until(pilot, lambda: app.chat.streaming)
        composer = app.chat.composer
        shown = str(composer.placeholder), composer.content_region.width
        app.chat.stop()
        await settle(pilot)
        return shown

    (placeholder, width) = run_app(make_app(server), script, size=(80, 24))
    assert "Esc" in placeholder and cell_len(placeholder) <= width, (placeholder, width)


# Item 5: notices.


def notices_shown(app: GuideApp) -> list[Any]:
    return [toast for toast in app.screen.query("Toast") if toast.region.height > 0]


def test_three_notices_at_once_show_two_lines_at_most_two_and_f8_shows_them_whole(server: LoopbackServer) -> None:
    from tui_helpers import command

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        for typed in ("/bogus", "/respond maybe", "/tour please"):
            await command(pilot, typed)
        await settle(pilot, 0.2)
        shown = [(toast.region, str(toast.render())) for toast in notices_shown(app)]
        await pilot.press("f8")
        await wait_for_modal(pilot)
        await settle(pilot)
        listed = " ".join(str(block.render()) for block in app.screen.query(".notice"))
        return shown, listed

    shown, listed = run_app(make_app(server), script, size=(100, 30), toasts=True)
    assert len(shown) <= 2 and all(region.height <= 2 for region, _ in shown), shown
    assert "There is no command /bogus" in listed and "Usage: /respond" in listed and "Usage: /tour" in listed


def test_the_dead_server_notice_at_80x24_is_short_and_its_full_words_are_a_key_away(tmp_path: Any) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "hello")
        await until(pilot, lambda: any(n.severity == "error" for n in app.recent.said))
        await settle(pilot, 0.2)
        shown = [(toast.region, str(toast.render())) for toast in notices_shown(app)]
        await pilot.press("f8")
        await wait_for_modal(pilot)
        await settle(pilot)
        return shown, " ".join(str(block.render()) for block in app.screen.query(".notice"))

    shown, listed = run_app(GuideApp(flags={"base_url": dead, "model": "m"}), script, size=(80, 24), toasts=True)
    assert shown and all(region.height <= 2 for region, _ in shown), shown
    assert "F8" in shown[-1][1]  # the notice says where the rest is
    assert "F7 picks another server" in listed


def test_a_notice_never_covers_a_dialogs_title(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "one")
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("enter")  # the call, whole
        await wait_for_modal(pilot)
        await pilot.press("c")  # copies the open tab, and says where
        await settle(pilot, 0.2)
        return app.screen.query_one("#call-title").region, [toast.region for toast in notices_shown(app)]

    title, shown = run_app(make_app(server), script, size=(100, 30), toasts=True)
    assert shown and not [region for region in shown if region.overlaps(title)], (title, shown)


# Item 11: the persona form at 80x24.


def test_a_new_persona_form_at_80x24_starts_empty_keeps_keys_where_focus_is_and_asks_before_discarding(server: LoopbackServer) -> None:
    from textual.widgets import Checkbox, Input, TextArea

    from guide import personas

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f5")
        await wait_for_modal(pilot)
        await settle(pilot)
        picker = app.screen.query_one("#picker-list")
        picker.highlighted = next(i for i in range(picker.option_count) if picker.get_option_at_index(i).id == "new")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query("#greeting"))
        await settle(pilot)
        form = app.screen
        greeting, system = form.query_one("#greeting", TextArea), form.query_one("#system", TextArea)
        started = greeting.text, system.text, str(greeting.placeholder), form.query_one("#description", Input).value
        form.query_one("#address", Input).focus()
        await settle(pilot)
        burst(app, "tab", "H", "e", "y")  # typed fast: Tab, then words for the greeting
        await settle(pilot, 0.2)
        typed = form.query_one("#address", Input).value, greeting.text
        await pilot.press("ctrl+a", "H", "i")  # all of it, typed over
        await pilot.press("escape")  # changes: asked first
        await wait_for_modal(pilot)
        asked = type(app.screen).__name__
        await pilot.press("n")  # goes on editing
        await settle(pilot)
        kept = app.screen is form, greeting.text
        await pilot.press("ctrl+s")  # the description is still empty: not saved as its placeholder
        await settle(pilot)
        refused = app.screen is form
        form.query_one("#description", Input).value = "Late company"
        form.query_one("#model", Input).value = "loopback-model"
        form.query_one("#temperature", Input).value = "0.2"
        form.query_one("#tool-now", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settle(pilot, 0.2)
        return started, typed, asked, kept, refused

    started, typed, asked, kept, refused = run_app(make_app(server), script, size=(80, 24))
    assert started[:2] == ("", "") and "Hello" in started[2] and started[3] == ""
    assert typed == ("Fira", "Hey")
    assert asked == "Confirm" and kept == (True, "Hi")
    assert refused
    saved = personas.load().personas["my-guide"]
    assert (saved.description, saved.greeting, saved.model, saved.options, saved.tools) == (
        "Late company",
        "Hi",
        "loopback-model",
        {"temperature": 0.2},
        ("now",),
    )


def test_esc_on_an_untouched_persona_form_closes_it_at_once(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f5")
        await wait_for_modal(pilot)
        await settle(pilot)
        picker = app.screen.query_one("#picker-list")
        picker.highlighted = picker.option_count - 1  # type: ignore[attr-defined]  # ✎ Edit …
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query("#greeting"))
        await pilot.press("escape")
        await settle(pilot)
        return app.screen is app.chat

    assert run_app(make_app(server), script, size=(80, 24))
