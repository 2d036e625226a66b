"""Subcommands of `guide` that have more than a few lines each."""
