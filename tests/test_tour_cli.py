"""`guide tour` prints the tour for people who learn in a shell: each step's call as curl, and its answer."""

from __future__ import annotations

import re

from guide.client import ACTIONS
from guide.learn.tour import STEPS

ORDER = ["catalog", "think", "respond", "continue", "revise", "understand", "discern", "imagine", "speak", "listen", "interpret"]
"""The tour's steps, in the order a learner meets them: each surface of a turn beside the other."""


def test_the_tour_in_a_shell_takes_every_step_on_the_companion(run_guide, companion) -> None:
    done = run_guide("tour", "--base-url", companion)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    headings = re.findall(rf"^Tour (\d+) of {len(STEPS)} · (\w+) → (\w+ \S+)$", out, re.M)
    assert [name for _, name, _ in headings] == ORDER
    assert {name for _, name, _ in headings} == set(ACTIONS)
    assert all(ACTIONS[name].endpoint == endpoint for _, name, endpoint in headings)
    # Each step's call as curl, to the server in use, and its answer.
    assert out.count(f"$ curl {companion}/v1/") + out.count(f"$ curl --no-buffer {companion}/v1/") == len(ACTIONS)
    assert '"content": "In five words: what is a calm morning?"' in out
    assert "data: [DONE]" in out  # continue streams: its SSE frames are shown
    assert '"embedding": [' in out and 'more"' in out  # a vector is shortened, saying how much is left out
    # The reflective listener cannot draw: that step shows the probe's 404, and the tour moves on.
    imagine = out.split(f"Tour 8 of {len(STEPS)}")[1].split(f"Tour 9 of {len(STEPS)}")[0]
    assert "This server does not offer imagine" in imagine and "HTTP 404" in imagine and "not_offered" in imagine
    assert "the probe sent a request no server can act on" in imagine and '"prompt": {}' in imagine  # the probe's call, as it went
    # Nor can it rewrite text as asked: revise is the probe's 404 too; respond answers as think does, in typed events.
    revise = out.split(f"Tour 5 of {len(STEPS)}")[1].split(f"Tour 6 of {len(STEPS)}")[0]
    assert "This server does not offer revise" in revise and "HTTP 404" in revise
    # The step asks for at most 24 tokens: the listener's first reply (its introduction) is longer, so the response ends incomplete.
    assert "event: response.output_text.delta" in out and "event: response.incomplete" in out
    assert out.rstrip().endswith("replays it with your edits.")


def test_the_tour_says_calmly_when_nothing_answers(run_guide) -> None:
    done = run_guide("tour", "--base-url", "http://127.0.0.1:9")
    assert done.returncode == 3
    assert "nothing answered at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def test_listen_says_it_sent_silence_when_speak_made_no_sound(run_guide) -> None:
    from loopback import LoopbackServer

    with LoopbackServer(offers={row.path for name, row in ACTIONS.items() if name != "speak"}) as server:
        done = run_guide("tour", "--base-url", server.url)
    assert done.returncode == 0, done.stderr
    listen = done.stdout.split(f"Tour 10 of {len(STEPS)}")[1].split(f"Tour 11 of {len(STEPS)}")[0]
    assert "speak made no sound here, so this call sent a second of silence" in " ".join(listen.split())
    assert "This server does not offer speak" in done.stdout
