"""Everyday use without surprises: what a newcomer hit in the first hour, each done as they did it."""

from __future__ import annotations

from typing import Any

from loopback import LoopbackServer
from textual import events
from textual.pilot import Pilot
from tui_helpers import run_app, settle, wait_for_modal

from guide.tui.app import GuideApp


def make_app(server: LoopbackServer, **flags: Any) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model", **flags})


def toasts(app: GuideApp) -> list[str]:
    """The words of every notice on screen, as shown."""

    return [str(toast.render()) for toast in app.screen.query("Toast")] + [str(t.render()) for t in app.query("Toast")]


def test_the_help_table_keeps_a_command_with_a_pipe_in_one_row(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> list[list[str]]:
        from textual.widgets._markdown import MarkdownTable

        await pilot.press("f1")
        await wait_for_modal(pilot)
        await settle(pilot)
        tables = list(pilot.app.screen.query(MarkdownTable))
        return [list(map(str, row)) for table in tables for row in table._rows]

    rows = run_app(make_app(server), script)
    understand = [row for row in rows if row and row[0].startswith("/understand")]
    assert understand == [[understand[0][0], understand[0][1], "POST /v1/embeddings"]]
    assert "A | B" in understand[0][0]


def test_ctrl_c_says_how_to_quit_in_plain_words(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> list[str]:
        pilot.app.chat.query_one("#calls").focus()  # type: ignore[attr-defined]
        await pilot.press("ctrl+c")
        await pilot.pause(0.1)
        return [n.message for n in pilot.app.recent.said]

    said = run_app(make_app(server), script)
    assert any("ctrl+q" in words for words in said)
    assert not any("[b]" in words for words in said)


def dividers(app: GuideApp) -> list[str]:
    return [str(d.render()) for d in app.chat.query("Divider")]


async def open_persona_picker(pilot: Pilot[None]) -> Any:
    await pilot.press("f5")
    await wait_for_modal(pilot)
    await settle(pilot)
    return pilot.app.screen.query_one("#picker-list")


def test_the_persona_picker_opens_on_the_persona_in_force(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        picker = await open_persona_picker(pilot)
        highlighted = picker.get_option_at_index(picker.highlighted).id
        await pilot.press("enter")  # F5 then Enter: the persona in force, kept
        await settle(pilot)
        return highlighted, app.session.conversation.persona.id, dividers(app)

    highlighted, persona, shown = run_app(make_app(server, persona="socratic-tutor"), script)
    assert highlighted == "use:socratic-tutor"
    assert persona == "socratic-tutor" and shown == []


def test_switching_twice_with_nothing_said_between_leaves_one_divider(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        for command in ("/persona socratic-tutor", "/persona api-docent"):
            app.chat.composer.text = command
            await pilot.press("enter")
            await settle(pilot)
        twice = dividers(app)
        app.chat.composer.text = "/persona calm-guide"  # and back where it started: no divider at all
        await pilot.press("enter")
        await settle(pilot)
        return twice, dividers(app)

    twice, back = run_app(make_app(server), script)
    assert len(twice) == 1 and "API docent" in twice[0]
    assert back == []


def test_saving_an_edit_of_the_persona_in_force_adds_one_divider(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        from textual.widgets import TextArea

        app: GuideApp = pilot.app  # type: ignore[assignment]
        for _ in range(2):  # edit twice with nothing said between
            picker = await open_persona_picker(pilot)
            picker.highlighted = picker.option_count - 1  # ✎ Edit …
            await pilot.press("enter")
            await wait_for_modal(pilot)
            await settle(pilot)
            app.screen.query_one("#system", TextArea).text = "You are a calm guide. Be brief with {address}."
            await pilot.press("ctrl+s")
            await settle(pilot)
        return dividers(app)

    assert len(run_app(make_app(server, persona="socratic-tutor"), script)) == 1


def test_editing_a_bundled_persona_says_so_and_it_can_be_restored(server: LoopbackServer) -> None:
    from guide import personas

    async def script(pilot: Pilot[None]) -> Any:
        from textual.widgets import Label, TextArea

        app: GuideApp = pilot.app  # type: ignore[assignment]
        picker = await open_persona_picker(pilot)
        picker.highlighted = picker.option_count - 1  # ✎ Edit Calm guide…
        await pilot.press("enter")
        await wait_for_modal(pilot)
        await settle(pilot)
        warned = " ".join(str(label.render()) for label in app.screen.query(Label))
        app.screen.query_one("#system", TextArea).text = "You are brief with {address}."
        await pilot.press("ctrl+s")
        await settle(pilot)
        said = [n.message for n in app.recent.said]
        mine = personas.load().personas["calm-guide"].source
        picker = await open_persona_picker(pilot)
        options = [picker.get_option_at_index(i) for i in range(picker.option_count)]
        restore = next(i for i, option in enumerate(options) if option.id == "restore:calm-guide")
        picker.highlighted = restore
        await pilot.press("enter")
        await wait_for_modal(pilot)
        await until(pilot, lambda: bool(app.screen.query("Label.confirm-question")))
        await pilot.press("y")  # your copy goes for good: asked first
        await until(pilot, lambda: app.screen is app.chat and not app.workers._workers)
        await settle(pilot)
        return warned, said, mine, app.session.conversation.persona

    warned, said, mine, persona = run_app(make_app(server), script)
    assert "bundled" in warned and "your own copy" in warned
    assert mine == "user" and any("your own copy" in words for words in said)
    assert (
        persona.source == "bundled"
        and persona.system != "You are brief with {address}."
        and personas.load().personas["calm-guide"].source == "bundled"
    )


def overlaps(a: Any, b: Any) -> bool:
    return bool(a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom)


def test_at_80x24_who_answers_is_in_the_header_and_its_notice_leaves_the_greeting_clear(monkeypatch: Any) -> None:
    from tui_helpers import wait_until_connected

    from guide.tui.widgets.transcript import MessageView

    monkeypatch.setenv("GUIDE_GGUF", "none")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await wait_until_connected(pilot)
        await settle(pilot, 0.2)
        greeting = app.chat.query_one(MessageView).region
        shown = [toast for toast in app.screen.query("Toast")]
        return str(app.chat.query_one("#status").render()), greeting, [(t.region, str(t.render())) for t in shown]

    status, greeting, shown = run_app(GuideApp(), script, size=(80, 24), toasts=True)
    assert "companion at 127.0.0.1:" in status and "reflective-listener" in status and "Calm guide" in status
    assert shown and any("companion" in words for _, words in shown)
    assert not any(overlaps(region, greeting) for region, _ in shown)
    assert all(len(words) < 240 for _, words in shown)


def test_the_header_keeps_persona_server_and_model_at_every_width(server: LoopbackServer) -> None:
    model = "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit"

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        lines = []
        for width in (120, 100, 80, 60):
            await pilot.resize_terminal(width, 24)
            await settle(pilot)
            lines.append((width, str(app.chat.query_one("#status").render())))
        return lines

    where = server.url.split("//", 1)[1]
    for width, line in run_app(make_app(server, model=model), script):
        assert len(line) <= width - 2, line  # the line's padding included
        assert "Calm guide" in line and where in line, line  # host and port: the host alone does not say which server
        assert line.split("·")[-1].strip().startswith("mlx-co") and line.endswith("4bit"), line


def test_the_footer_shows_the_model_and_server_keys_at_80_columns(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        from textual.widgets import Footer

        footer = pilot.app.chat.query_one(Footer)
        return [(key.key_display, key.description, key.region) for key in footer.query("FooterKey")]  # type: ignore[attr-defined]

    keys = run_app(make_app(server), script, size=(80, 24))
    shown = {description for _, description, region in keys if region.right <= 80 and region.width > 0}
    assert {"Model", "Server", "Help", "Persona"} <= shown


def test_the_persona_form_at_80x24_labels_every_field_and_scrolls_to_focus(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        from textual.widgets import Button, Input, TextArea

        app: GuideApp = pilot.app  # type: ignore[assignment]
        picker = await open_persona_picker(pilot)
        picker.highlighted = picker.option_count - 1  # ✎ Edit …
        await pilot.press("enter")
        await wait_for_modal(pilot)
        await settle(pilot)
        form = app.screen
        await pilot.press("X")  # typed at once: the form has focus, on its first field
        await settle(pilot)
        typed = form.query_one("#name", Input).value
        labels = [str(label.render()) for label in form.query(".field-label")]
        fields = list(form.query(Input)) + list(form.query(TextArea))
        seen: list[tuple[str, bool]] = []
        for _ in range(12):
            await pilot.press("tab")
            await settle(pilot)
            focused = app.focused
            if focused is None:
                break
            visible = form.region.contains_region(focused.region) and focused.region.height > 0
            seen.append((focused.id or type(focused).__name__, visible))
            if isinstance(focused, Button) and focused.id == "save":
                break
        keys = [(key.key_display, key.description) for key in form.query("FooterKey")]  # type: ignore[attr-defined]
        return typed, labels, len(fields), seen, keys

    typed, labels, fields, seen, keys = run_app(make_app(server), script, size=(80, 24))
    assert typed.endswith("X"), typed
    assert len(labels) >= fields == 8  # id, name, description, address, greeting, system prompt, model, temperature
    assert ("save", True) in seen and all(visible for _, visible in seen), seen
    assert any("Save" in description and "s" in key for key, description in keys), keys


def test_at_80_columns_tab_never_hides_focus_and_typing_reaches_the_composer(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("tab")
        await settle(pilot)
        focused = app.focused
        assert focused is not None and focused is not app.chat.composer

        def look() -> tuple[Any, ...]:
            styles = focused.styles  # type: ignore[union-attr]
            return (styles.border_left, styles.border_top, styles.background, styles.background_tint, styles.outline_left)

        with_focus = look()
        await pilot.press("h", "i")
        await settle(pilot)
        focused.focus()
        focused.post_message(events.Paste(" there"))  # a paste, where Tab had put focus
        await settle(pilot)
        text = app.chat.composer.text
        focused.blur()
        await settle(pilot)
        return with_focus != look(), text

    marked, text = run_app(make_app(server), script, size=(80, 24))
    assert marked  # what Tab reached shows that it has focus
    assert text == "hi there"  # and what is typed or pasted there goes to the composer


def test_closing_a_modal_returns_focus_to_the_composer_and_a_call_to_the_panel_it_came_from(server: LoopbackServer) -> None:
    from tui_helpers import type_and_send

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "hello")
        await pilot.press("f2")  # the calls list, focused
        await settle(pilot)
        await pilot.press("enter")  # the call, whole
        await wait_for_modal(pilot)
        await pilot.press("escape")
        await settle(pilot)
        after_detail = app.chat.panel in app.focused.ancestors_with_self  # ↓ Enter opens the next call, never sends a draft
        await pilot.press("o", "k")  # and typing still reaches the composer
        typed = app.chat.composer.text
        app.chat.composer.text = ""
        await pilot.press("f1")
        await wait_for_modal(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("o", "k")
        return after_detail, typed, app.focused is app.chat.composer, app.chat.composer.text

    after_detail, typed, after_help, text = run_app(make_app(server), script)
    assert after_detail and typed == "ok"
    assert after_help and text == "ok"


async def pick_server(pilot: Pilot[None], option_id: str) -> None:
    await pilot.press("f7")
    await wait_for_modal(pilot)
    await pilot.pause(0.1)  # not settle: the picker's worker waits for the choice
    picker = pilot.app.screen.query_one("#picker-list")
    picker.highlighted = next(i for i in range(picker.option_count) if picker.get_option_at_index(i).id == option_id)  # type: ignore[attr-defined]
    await pilot.press("enter")


async def until(pilot: Pilot[None], done: Any, tries: int = 300) -> None:
    for _ in range(tries):
        await pilot.pause(0.02)
        if done():
            return


def test_f7_goes_back_to_guides_own_companion(server: LoopbackServer, monkeypatch: Any) -> None:
    from guide import config

    monkeypatch.setenv("GUIDE_GGUF", "none")

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pick_server(pilot, "companion")
        await until(
            pilot,
            lambda: (
                app.session.server.support is not None
                and app.session.server.client is not None
                and not app.session.server.client.base_url.startswith(server.url)
            ),
        )
        await settle(pilot)
        assert app.session.server.client is not None
        return app.session.server.client.base_url, str(app.chat.query_one("#status").render()), dividers(app)

    address, status, shown = run_app(make_app(server), script)
    settings = config.load().settings
    assert settings.base_url is None and settings.provider is None
    assert address.startswith("http://127.0.0.1:") and not address.startswith(server.url)
    assert "companion" in status and "reflective-listener" in status
    assert any("companion" in divider for divider in shown), shown


def test_a_server_that_answers_nothing_is_offered_not_saved(server: LoopbackServer) -> None:
    from textual.widgets import Input

    from guide import config

    with LoopbackServer() as gone:
        dead = gone.url  # nothing listens here once the block ends

    async def choose_dead(pilot: Pilot[None], answer: str) -> str:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pick_server(pilot, "custom")
        await until(pilot, lambda: bool(app.screen.query(Input)))
        app.screen.query_one(Input).value = dead
        await pilot.press("enter")
        await until(pilot, lambda: "Nothing answers" in " ".join(str(w.render()) for w in app.screen.query("Label")))
        asked = " ".join(str(w.render()) for w in app.screen.query("Label"))
        await pilot.press(answer)
        await until(pilot, lambda: app.screen is app.chat and not app.workers._workers)
        await settle(pilot)
        return asked

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        asked = await choose_dead(pilot, "n")
        kept = config.load().settings.base_url, app.session.server.client.base_url if app.session.server.client else None
        await choose_dead(pilot, "y")
        return asked, kept, config.load().settings.base_url

    asked, kept, chosen = run_app(make_app(server), script)
    assert "Nothing answers" in asked and "127.0.0.1" in asked
    assert kept == (None, server.url + "/v1")  # "n": nothing saved, the server in use stays
    assert chosen == dead  # "y": used anyway, as asked


def test_the_map_is_not_covered_by_notices_of_its_own_probe(server: LoopbackServer) -> None:
    from textual.widgets import DataTable

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f3")
        await wait_for_modal(pilot)
        await until(pilot, lambda: app.session.server.support is not None)
        await settle(pilot)
        table = app.screen.query_one(DataTable).region
        return [(toast.region, str(toast.render())) for toast in app.screen.query("Toast")], table

    shown, table = run_app(make_app(server), script, size=(80, 24), toasts=True)
    assert not [words for region, words in shown if overlaps(region, table)]


def test_a_server_that_drops_the_probes_connections_is_asked_about_not_saved(server: LoopbackServer) -> None:
    """Python's http.server answers HTML and drops a multipart POST's connection: no answer is not an offer."""
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from textual.widgets import Input

    from guide import config

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    pages = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=pages.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{pages.server_address[1]}"

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pick_server(pilot, "custom")
        await until(pilot, lambda: bool(app.screen.query(Input)))
        app.screen.query_one(Input).value = address
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.screen.query("Label.confirm-question")))
        asked = " ".join(str(w.render()) for w in app.screen.query("Label"))
        await pilot.press("n")
        await until(pilot, lambda: app.screen is app.chat and not app.workers._workers)
        return asked

    try:
        asked = run_app(make_app(server), script)
    finally:
        pages.shutdown()
        pages.server_close()
    assert "Use it anyway?" in asked
    assert config.load().settings.base_url is None


def test_the_calls_panel_folds_away_again_when_the_terminal_narrows(server: LoopbackServer) -> None:
    from tui_helpers import type_and_send

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "hello")
        await pilot.press("f2", "f2")  # to the calls and back: F2's choice is "shown"
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        shown_wide = app.chat.panel.display
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        return shown_wide, app.chat.panel.display

    shown_wide, shown_narrow = run_app(make_app(server), script, size=(120, 40))
    assert shown_wide and not shown_narrow
