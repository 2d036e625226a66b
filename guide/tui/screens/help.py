"""Help: the keys and the slash commands, with the endpoint each one calls."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from guide.tui import slash

KEYS = """
| key | does |
|---|---|
| Enter | send |
| ctrl+j (shift+enter, alt+enter where the terminal passes them) | new line |
| ↑ in an empty composer | the last prompt again |
| Esc | stop a reply (what arrived stays) |
| Tab | complete a slash command; otherwise move to the transcript (shift+Tab back) |
| ↑ ↓ (or k j) in the transcript | choose a message |
| y or c in the transcript | copy the chosen message |
| b in the transcript | copy its last code block (again: the block before) |
| ← → in the transcript | scroll its code sideways |
| e in the transcript | edit the chosen message of yours in the composer: Enter sends it as a new branch (nothing is deleted; Esc leaves it) |
| [ ] in the transcript | the version before · after of the chosen message (`‹ 2 / 3 ›` on it); everything below follows its branch |
| d in the transcript | compare two versions side by side: the requests as sent, only what differs marked, and the two replies |
| F1 | this help (t: the tour) |
| e in a call's detail | replay it with edits: ctrl+s checks the body against the spec and sends, ctrl+t flips stream |
| moving in a call's Request or Response tab | what the spec says of the field under the cursor |
| F2 | show or hide the calls panel |
| F3 | the map (Enter on a row: the probe's call) |
| F4 | conversations (Enter resume · r rename · d delete, asked first · e export) |
| F5 | persona |
| F6 | model |
| F7 | server: guide's companion, a preset, or an address |
| F8 | the recent notices, whole (on screen they are cut to two lines, two at a time) |
| ctrl+n | new conversation |
| ctrl+r | regenerate the last reply (the old one is kept: [ ] on the reply) |
| ctrl+y | copy the last reply (also saved to clipboard.txt in the data folder) |
| ctrl+f | find as you type (Enter or ↑ older match, ↓ newer, Esc closes); words only on another branch open that branch |
| shift+PgUp · shift+PgDn | scroll the conversation (older pages load at the top) |
| ctrl+Home · ctrl+End | the first message · the latest |
| ctrl+p | command palette (themes too) |
| ctrl+q | quit |
"""


def help_markdown() -> str:
    """The help text: keys, then every slash command."""
    from guide.client import ACTIONS

    def cell(text: str) -> str:
        return text.replace("|", "\\|")  # a pipe in a usage (`A | B`) would split the row

    rows = []
    for command in slash.COMMANDS:
        endpoint = f"`{ACTIONS[command.action].endpoint}`" if command.action else ""
        rows.append(f"| `{cell(command.usage)}` | {cell(command.help)} | {endpoint} |")
    commands = "| command | does | calls |\n|---|---|---|\n" + "\n".join(rows)
    tour = "**New to the API?** Press **t** for the tour: every gentle action, one real call at a time, each opened whole (`/tour` also)."
    return f"# Help\n\n{tour}\n\n## Keys\n{KEYS}\n## Slash commands\n\n{commands}\n"


class HelpScreen(ModalScreen[None]):
    """Keys and commands."""

    CSS_PATH = "screens.tcss"  # read as the first dialog opens, not at launch

    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close", id="close"), Binding("t", "tour", "Take the tour", id="tour")]

    async def action_tour(self) -> None:
        self.dismiss()
        await self.app.run_action("tour")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(help_markdown())
