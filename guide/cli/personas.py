"""`guide personas`: list, show, create, edit and remove personas."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from guide import personas
from guide.locations import user_personas_dir, write_private
from guide.safe_text import one_line, visible

from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, said


def report_problems(shelf: personas.PersonaShelf) -> None:
    """Tell the user, calmly, which persona files were skipped and why."""
    for problem in shelf.problems:
        print(f"guide: skipped a persona file: {one_line(str(problem))}", file=sys.stderr)


def id_checked(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The command, run only for a persona id (else EXIT_USAGE, after one line saying why): no command reaches outside the folder."""

    def run(args: argparse.Namespace) -> int:
        reason = personas.check_id(args.id)
        return command(args) if reason is None else said(EXIT_USAGE, one_line(reason))

    return run


def cmd_list(args: argparse.Namespace) -> int:
    shelf = personas.load()
    report_problems(shelf)
    width = max((len(p.id) for p in shelf.personas.values()), default=0)
    for persona in shelf.personas.values():
        print(one_line(f"{persona.id:<{width}}  {persona.name} — {persona.description}  [{persona.source}]"))
    return EXIT_OK


@id_checked
def cmd_show(args: argparse.Namespace) -> int:
    shelf = personas.load()
    persona = shelf.personas.get(args.id)
    if persona is None:
        report_problems(shelf)
        return said(EXIT_FAILED, f"there is no persona called '{args.id}'. `guide personas` lists them.")
    print(one_line(f"# {persona.source} · {persona.path}"))
    print(visible(persona.to_toml()), end="")
    return EXIT_OK


def editor_command() -> list[str] | None:
    """The user's editor: $VISUAL, $EDITOR, else one that is installed."""
    import shlex
    import shutil

    chosen = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if chosen:
        return shlex.split(chosen)
    for name in ("nano", "vim", "vi"):
        if shutil.which(name):
            return [name]
    return None


def edit_and_save(persona_id: str, text: str) -> int:
    """Open the editor on the text; save it if it is a valid persona, else keep a draft."""
    import subprocess
    import tempfile

    command = editor_command()
    if command is None:
        return said(EXIT_USAGE, "no editor found. Set $EDITOR, or create the persona with flags (see --help).")
    with tempfile.TemporaryDirectory() as scratch:
        draft = Path(scratch) / f"{persona_id}.toml"
        draft.write_text(text, encoding="utf-8")
        if subprocess.run([*command, str(draft)]).returncode != 0:
            return said(EXIT_FAILED, "the editor did not finish cleanly; nothing was saved.")
        edited = draft.read_text(encoding="utf-8")
    target = personas.file_for(persona_id)
    result = personas.parse(edited, target, "user")
    if isinstance(result, personas.PersonaProblem):
        kept = personas.file_for(persona_id, suffix=".toml.draft")
        write_private(kept, edited)
        line = f" (line {result.line})" if result.line else ""
        again = f"fix it there and run `guide personas edit {persona_id}`."
        return said(EXIT_FAILED, f"the persona was not saved: {result.message}{line}\n  Your text is kept in {kept}; {again}")
    if result.id != persona_id:
        return said(EXIT_FAILED, f"the id inside the file ('{result.id}') must stay '{persona_id}'.")
    write_private(target, edited)
    print(f"Saved {target}")
    return EXIT_OK


FIELDS = ("name", "description", "address", "greeting", "system", "model")
"""The persona's fields `guide personas new` takes as flags."""


@id_checked
def cmd_new(args: argparse.Namespace) -> int:
    target = personas.file_for(args.id)
    if target.exists():
        return said(EXIT_FAILED, f"you already have a persona called '{args.id}'. Use `guide personas edit {args.id}`.")
    persona = personas.template(args.id)
    given = {key: getattr(args, f"new_{key}") for key in FIELDS if getattr(args, f"new_{key}")}
    if args.temperature is not None:
        given["options"] = {"temperature": args.temperature}
    if not given:
        return edit_and_save(args.id, persona.to_toml())
    made = replace(persona, **given)
    checked = personas.parse(made.to_toml(), target, "user")
    if isinstance(checked, personas.PersonaProblem):  # what a file would be refused for, refused before it is written
        return said(EXIT_USAGE, f"{one_line(checked.message)}{f' ({checked.field})' if checked.field else ''}.")
    path = personas.save(made)
    print(f"Saved {path}")
    return EXIT_OK


@id_checked
def cmd_edit(args: argparse.Namespace) -> int:
    shelf = personas.load()
    persona = shelf.personas.get(args.id)
    draft = personas.file_for(args.id, suffix=".toml.draft")
    if draft.exists():
        text = draft.read_text(encoding="utf-8")
    elif persona is not None and persona.path is not None:
        text = persona.path.read_text(encoding="utf-8")
    else:
        return said(EXIT_FAILED, f"there is no persona called '{args.id}'. Create it with `guide personas new {args.id}`.")
    if persona is not None and persona.source == "bundled":
        print(f"'{args.id}' is bundled: your edited copy will be saved in {user_personas_dir()} and used instead.")
    status = edit_and_save(args.id, text)
    if status == EXIT_OK:
        draft.unlink(missing_ok=True)
    return status


@id_checked
def cmd_remove(args: argparse.Namespace) -> int:
    try:
        path = personas.remove(args.id)
    except LookupError as error:
        return said(EXIT_FAILED, str(error))
    print(f"Removed {path}")
    return EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """`guide personas …` and its subcommands."""
    parser = commands.add_parser("personas", parents=[common], help="list, show, create, edit and remove personas")
    parser.set_defaults(run=cmd_list)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.add_parser("list", parents=[common], help="every persona: id, name, description, where it comes from").set_defaults(run=cmd_list)
    for name, run, words in (
        ("show", cmd_show, "print one persona's TOML"),
        ("new", cmd_new, "create a persona (from flags, or in $EDITOR)"),
        ("edit", cmd_edit, "edit a persona in $EDITOR (bundled ones are copied first)"),
        ("remove", cmd_remove, "remove one of your personas"),
    ):
        verb = verbs.add_parser(name, parents=[common], help=words)
        verb.add_argument("id")
        verb.set_defaults(run=run)
    new = verbs.choices["new"]
    for field in FIELDS:
        new.add_argument(f"--{field}", dest=f"new_{field}")  # its own dest: --model here is the persona's, not this run's (guide --model)
    new.add_argument("--temperature", type=float)
