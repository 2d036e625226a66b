"""Branches in the app (issue 28), through the keys: e on an earlier message of yours sends it as a new branch, [ and ]
move between versions, and the branch in view is what is sent, shown and opened again. The real app under Pilot, against
a loopback server, with its store in the test's own folder."""

from __future__ import annotations

from typing import Any

from loopback import LoopbackServer
from textual.pilot import Pilot
from tui_helpers import run_app, settle, type_and_send

from guide.tui.app import GuideApp
from guide.tui.widgets.transcript import MessageView

ONE = ["First", "You said: First", "Second", "You said: Second", "Third", "You said: Third"]
EDITED = ["First", "You said: First", "Second, edited", "You said: Second, edited"]


def make_app(server: LoopbackServer) -> GuideApp:
    return GuideApp(flags={"base_url": server.url, "model": "loopback-model"})


def shown(app: GuideApp) -> list[str]:
    """The words of each message on screen (the greeting left out)."""
    return [view.text for view in app.chat.transcript.views if isinstance(view, MessageView)]


def headings(app: GuideApp) -> list[str]:
    return [str(view.query_one(".who").render()) for view in app.chat.transcript.views if isinstance(view, MessageView)]


def panel_ids(app: GuideApp) -> set[str]:
    """The calls panel's rows, by trace id."""
    from textual.widgets import OptionList

    calls = app.chat.panel.query_one("#calls", OptionList)
    return {calls.get_option_at_index(i).id or "" for i in range(calls.option_count)}


def sent(server: LoopbackServer) -> list[str]:
    """The messages of the last chat request, after the system prompt."""
    asked = [r for r in server.requests if r.path.endswith("/chat/completions")][-1]
    return [message["content"] for message in asked.json["messages"][1:]]


async def choose(pilot: Pilot[None], back: int) -> None:
    """Tab to the transcript, and ↑ to the message `back` before the last."""
    await pilot.press("tab", *["up"] * (back + 1))
    await settle(pilot)


async def three(pilot: Pilot[None]) -> None:
    for words in ("First", "Second", "Third"):
        await type_and_send(pilot, words)


async def edit_second(pilot: Pilot[None]) -> str:
    """e on "Second", its words changed in the composer, Enter: what the composer held after e."""
    app: GuideApp = pilot.app  # type: ignore[assignment]
    await choose(pilot, 3)
    await pilot.press("e")
    await settle(pilot)
    opened = app.chat.composer.text
    await pilot.press("end", ",", "space", *"edited")
    await pilot.press("enter")
    await settle(pilot, 0.2)
    return opened


def test_e_on_an_early_message_sends_it_as_a_new_branch_and_the_turns_after_it_leave_the_view(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await three(pilot)
        before = shown(app)
        opened = await edit_second(pilot)
        return before, opened, shown(app), headings(app), app.chat.focused is app.chat.composer

    before, opened, after, heads, composing = run_app(make_app(server), script)
    assert before == ONE and opened == "Second"
    assert after == EDITED  # the new reply shown, Third and its reply no longer
    assert sent(server) == ["First", "You said: First", "Second, edited"]  # nothing of the other branch went
    assert heads[2].endswith("‹ 2 / 2 ›") and "‹" not in heads[0] and composing


def test_brackets_move_between_versions_and_a_resumed_conversation_opens_on_the_branch_left_in_view(server: LoopbackServer) -> None:
    async def first(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await three(pilot)
        await edit_second(pilot)
        await choose(pilot, 1)  # the edited message, above its reply
        await pilot.press("[")
        await settle(pilot)
        back = shown(app), headings(app)
        await pilot.press("]")
        await settle(pilot)
        again = shown(app), headings(app)
        await pilot.press("[")
        await settle(pilot)
        hidden = next(t.trace_id for t in app.chat.conversation.tree.made.values() if t.content == "You said: Second, edited")
        return back, again, shown(app), hidden

    (back, back_heads), (again, again_heads), left, hidden = run_app(make_app(server), first)
    assert back == ONE and back_heads[2].endswith("‹ 1 / 2 ›")  # everything below follows the version chosen
    assert again == EDITED and again_heads[2].endswith("‹ 2 / 2 ›")
    assert left == ONE

    async def resumed(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        return shown(app), headings(app), set(app.chat.panel.traces), panel_ids(app)

    opened, heads, stored, rows = run_app(make_app(server), resumed)
    assert opened == ONE and heads[2].endswith("‹ 1 / 2 ›")
    assert hidden in stored and hidden not in rows  # its call is kept, and shown with its branch


def test_brackets_on_a_reply_asked_again_move_between_its_versions(server: LoopbackServer) -> None:
    from loopback import Stream, chat_chunk, sse

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Once")
        server.push(Stream(sse(chat_chunk("A new answer"), chat_chunk(finish="stop"))))
        await pilot.press("ctrl+r")
        await settle(pilot, 0.2)
        asked_again = shown(app), headings(app)
        await choose(pilot, 0)
        await pilot.press("[")
        await settle(pilot)
        back = shown(app), headings(app)
        await pilot.press("]")
        await settle(pilot)
        return asked_again, back, shown(app)

    (again, again_heads), (back, back_heads), forth = run_app(make_app(server), script)
    assert again == ["Once", "A new answer"] and again_heads[1].endswith("‹ 2 / 2 ›")
    assert back == ["Once", "You said: Once"] and back_heads[1].endswith("‹ 1 / 2 ›")
    assert forth == ["Once", "A new answer"]


LIGHTHOUSE = ["First", "You said: First", "Second, by the lighthouse", "You said: Second, by the lighthouse"]


async def lighthouse_left(pilot: Pilot[None]) -> None:
    """Three messages; the second edited to name a lighthouse; then the first version chosen again: the word is only in the
    branch not in view."""
    app: GuideApp = pilot.app  # type: ignore[assignment]
    await three(pilot)
    await choose(pilot, 3)
    await pilot.press("e")
    await settle(pilot)
    await pilot.press("end", ",", "space", *"by", "space", *"the", "space", *"lighthouse", "enter")
    await settle(pilot, 0.2)
    await choose(pilot, 1)
    await pilot.press("[")
    await settle(pilot)
    assert shown(app) == ONE


def test_ctrl_f_finds_a_word_only_in_a_branch_not_in_view_and_opens_that_branch(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await lighthouse_left(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)
        await pilot.press(*"lighthouse", "enter")
        await settle(pilot, 0.3)
        current = app.chat.transcript.current
        return shown(app), headings(app), current.content if current else None, str(app.chat.query_one("#find-where").render())

    opened, heads, current, status = run_app(make_app(server), script)
    assert opened == LIGHTHOUSE and heads[2].endswith("‹ 2 / 2 ›")
    assert current == "You said: Second, by the lighthouse" and status.startswith("in another branch, now in view: 2 of 2")


def test_f4_search_finds_a_word_only_in_a_branch_not_in_view_and_opens_the_conversation_on_that_branch(server: LoopbackServer) -> None:
    run_app(make_app(server), lighthouse_left)

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("slash", *"lighthouse")
        await settle(pilot, 0.3)
        await pilot.press("enter")
        await settle(pilot, 0.3)
        current = app.chat.transcript.current
        return shown(app), current.content if current else None

    opened, current = run_app(make_app(server), script)
    assert opened == LIGHTHOUSE and current is not None and "lighthouse" in current


def test_export_all_writes_every_branch_as_a_tree_and_export_only_the_one_in_view(server: LoopbackServer) -> None:
    from pathlib import Path

    from tui_helpers import command

    def exported(app: GuideApp) -> str:
        told = next(n.message for n in reversed(app.recent.said) if n.message.startswith("Exported to "))
        return Path(told.removeprefix("Exported to ")).read_text()

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await lighthouse_left(pilot)
        await pilot.press("escape")  # from the transcript back to the composer
        await command(pilot, "/export")
        one = exported(app)
        await command(pilot, "/export all")
        return one, exported(app)

    one, every = run_app(make_app(server), script)
    assert "Third" in one and "lighthouse" not in one
    assert every.startswith(one)
    assert "## Another branch, after: You said: First" in every[len(one) :] and "Second, by the lighthouse" in every[len(one) :]


def test_d_on_a_branch_point_sets_the_two_requests_as_sent_side_by_side_only_the_edit_marked_and_the_two_replies(server: LoopbackServer) -> None:
    from textual.widgets import Static

    from guide.tui.screens.branches import BranchCompare

    def column(app: GuideApp, key: str) -> list[str]:
        return str(app.screen.query_one(f"#{key}", Static).render()).splitlines()

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await three(pilot)
        await edit_second(pilot)
        await choose(pilot, 1)
        await pilot.press("d")
        await settle(pilot, 0.3)
        assert isinstance(app.screen, BranchCompare)
        return {key: column(app, key) for key in ("request-before", "request-after", "reply-before", "reply-after", "beside-changed")}

    seen = run_app(make_app(server), script)
    [before] = [line for line in seen["request-before"] if line.startswith("-")]
    [after] = [line for line in seen["request-after"] if line.startswith("+")]
    assert '"content": "Second"' in before and '"content": "Second, edited"' in after  # only the edited message is marked
    assert any('"content": "You said: First"' in line for line in seen["request-after"])  # the rest, unmarked, on both sides
    assert [line for line in seen["reply-before"] if line.startswith("-")] == ["- You said: Second"]
    assert [line for line in seen["reply-after"] if line.startswith("+")] == ["+ You said: Second, edited"]
    assert seen["beside-changed"] == ["The requests differ in: messages[3].content"]


def test_the_calls_panel_shows_the_calls_of_the_branch_in_view(server: LoopbackServer) -> None:
    rows = panel_ids

    def replies(app: GuideApp) -> dict[str, str]:
        return {turn.content: turn.trace_id or "" for turn in app.chat.conversation.turns if turn.role == "assistant"}

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await three(pilot)
        first = replies(app)
        await edit_second(pilot)
        await settle(pilot, 0.2)
        edited, after_edit = replies(app), rows(app)
        await choose(pilot, 1)
        await pilot.press("[")
        await settle(pilot, 0.2)
        return first, edited, after_edit, rows(app)

    first, edited, after_edit, back = run_app(make_app(server), script)
    assert set(edited.values()) <= after_edit and not {first["You said: Second"], first["You said: Third"]} & after_edit
    assert set(first.values()) <= back and edited["You said: Second, edited"] not in back


def test_esc_leaves_an_edit_and_the_draft_it_replaced_comes_back(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await three(pilot)
        asked = len(server.requests)
        app.chat.composer.text = "half a thought"
        await choose(pilot, 3)
        await pilot.press("e")
        await settle(pilot)
        editing = app.chat.composer.text
        await pilot.press("escape")
        await settle(pilot)
        return editing, app.chat.composer.text, len(server.requests) - asked, shown(app)

    editing, back, sent_since, after = run_app(make_app(server), script)
    assert editing == "Second" and back == "half a thought" and sent_since == 0 and after == ONE


def test_an_edit_sent_after_its_message_left_the_view_goes_back_to_the_composer_unsent(server: LoopbackServer) -> None:
    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await three(pilot)
        await edit_second(pilot)
        await choose(pilot, 1)
        await pilot.press("e")  # the edited message, in the composer again
        await settle(pilot)
        await choose(pilot, 1)
        await pilot.press("[")  # meanwhile the other version is chosen: the message being edited leaves the view
        await settle(pilot)
        asked = len(server.requests)
        app.chat.composer.focus()
        await pilot.press("end", "!", "enter")
        await settle(pilot, 0.2)
        told = [n.message for n in app.recent.said]
        return app.chat.composer.text, len(server.requests) - asked, shown(app), told

    left, sent_since, after, told = run_app(make_app(server), script)
    assert left == "Second, edited!" and sent_since == 0 and after == ONE
    assert any("no longer in view" in words for words in told)


def test_branch_keys_wait_while_a_reply_streams(server: LoopbackServer) -> None:
    from loopback import Stream, chat_chunk, sse

    async def script(pilot: Pilot[None]) -> Any:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await type_and_send(pilot, "Once")
        server.push(Stream(sse(*[chat_chunk(f"word{i} ") for i in range(40)], chat_chunk(finish="stop")), pause=0.1))
        app.chat.composer.text = "Twice"
        await pilot.press("enter")
        for _ in range(200):  # until the reply streams: a busy machine may take a while to start it
            if app.chat.streaming:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        await pilot.press("tab", "up", "up", "up", "e", "[")
        await pilot.pause(0.1)
        streaming, composer = app.chat.streaming, app.chat.composer.text
        await settle(pilot)
        return streaming, composer, [n.message for n in app.recent.said], shown(app)

    streaming, composer, told, after = run_app(make_app(server), script)
    assert streaming and composer == ""  # nothing was put in the composer to edit
    assert sum("still answering" in words for words in told) == 2
    assert after[:2] == ["Once", "You said: Once"] and after[2] == "Twice"


def test_d_then_brackets_set_the_version_in_view_beside_any_other_not_only_its_neighbour(server: LoopbackServer) -> None:
    from textual.widgets import Static

    from guide.tui.screens.branches import BranchCompare

    def compared(app: GuideApp) -> tuple[str, list[str]]:
        title = str(app.screen.query_one("#call-title").render())
        return title, [line for line in str(app.screen.query_one("#request-before", Static).render()).splitlines() if line.startswith("-")]

    async def script(pilot: Pilot[None]) -> list[Any]:
        app: GuideApp = pilot.app  # type: ignore[assignment]
        await three(pilot)
        await edit_second(pilot)
        await choose(pilot, 1)
        await pilot.press("e", "end", ",", "space", *"again")
        await pilot.press("enter")
        await settle(pilot, 0.2)  # "Second" has three versions now, the third in view
        await choose(pilot, 1)
        await pilot.press("d")
        await settle(pilot, 0.3)
        assert isinstance(app.screen, BranchCompare)
        seen = [compared(app)]
        for key in ("[", "]", "]"):
            await pilot.press(key)
            await settle(pilot, 0.3)
            seen.append(compared(app))
        return seen

    neighbour, first, back, none_after = run_app(make_app(server), script)
    assert neighbour[0] == "Two branches: version 2 of 3 and version 3 of 3 (in view)"
    assert any('"content": "Second, edited"' in line for line in neighbour[1])
    assert first[0] == "Two branches: version 1 of 3 and version 3 of 3 (in view)"  # [ goes on to the first version
    assert any('"content": "Second"' in line for line in first[1])
    assert back == neighbour and none_after == neighbour  # ] back; ] again: there is none after the one in view
