"""Learning the API by doing: the OpenAI spec that travels with guide, read headlessly.

`guide.learn.spec` explains any field of a request, response, streamed chunk
or error in the spec's own words, checks a body against the spec's schema,
and finds the field under a cursor in a JSON text. Nothing here imports
textual, and nothing imports httpx, so the app can load it on first use.
"""
