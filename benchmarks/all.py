"""Runs every benchmark and prints one table, with the machine at the top."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import client_stream
import companion
import hostile
import keystrokes
import long
import pictures
import relay
import tiny_events
import tui
import watch_load


def machine() -> str:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{python} · {platform.machine()} · {os.cpu_count()} cores · {time.strftime('%Y-%m-%d')}"


def main() -> None:
    print(f"guide benchmarks — {machine()}\n")
    print("| figure | value | ratio | anchor |\n|---|---|---|---|")
    every = [
        *client_stream.rows(),
        *tui.rows(),
        *keystrokes.rows(),
        *long.rows(),
        *companion.rows(),
        *hostile.rows(),
        *pictures.rows(),
        *tiny_events.rows(),
        *relay.rows(),
        *watch_load.rows(),
    ]
    for name, value, unit, ratio, anchor in every:
        shown = f"{ratio:.2f}×" if anchor != "—" else "—"
        print(f"| {name} | {value:.3f} {unit} | {shown} | {anchor} |")


if __name__ == "__main__":
    main()
