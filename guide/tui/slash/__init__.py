"""Slash commands typed in the composer (the `guide` command's subcommands live in guide/cli)."""

from __future__ import annotations

from .table import BY_NAME, COMMANDS, SlashCommand, app_action, complete, parse

__all__ = ["BY_NAME", "COMMANDS", "SlashCommand", "app_action", "complete", "parse"]
