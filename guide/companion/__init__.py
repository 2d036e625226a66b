"""The companion: guide's own OpenAI-compatible server.

It is the embedded default (the app reaches it over real HTTP on a loopback
port) and `guide serve`. Each action is answered by the best engine
installed; an action without an engine answers 404 in the OpenAI error shape.
"""
