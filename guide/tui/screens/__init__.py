"""Screens: thin, compose and bindings."""
