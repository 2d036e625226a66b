"""A trace written again as curl, openai-python and openai-node: the same request, the key always read from
`$OPENAI_API_KEY`, never written out."""

from __future__ import annotations

import json
import pprint
import shlex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._trace import Trace

SPEECH_FILE = "speech"
INLINE_BODY_LIMIT = 4096
"""Bodies longer than this go to curl on its stdin (a here-document): Linux takes at most 128 KiB in one argument,
and a picture sent as a data URL is far more, so `-d '…'` would fail with "Argument list too long"."""
HEREDOC_END = "JSON"
PYTHON_STREAM_ENDS = {
    "response": ["for event in result:", '    if event.type == "response.output_text.delta":', '        print(event.delta, end="")'],
    "chat": ["for chunk in result:", "    if chunk.choices:", '        print(chunk.choices[0].delta.content or "", end="")'],
    "completion": ["for chunk in result:", "    if chunk.choices:", '        print(chunk.choices[0].text, end="")'],
}
"""How a Python snippet prints a streamed answer, by how the map's row reads it."""
NODE_STREAM_ENDS = {
    "response": [
        "for await (const event of result) {",
        '  if (event.type === "response.output_text.delta") process.stdout.write(event.delta);',
        "}",
    ],
    "chat": ["for await (const chunk of result) {", '  process.stdout.write(chunk.choices[0]?.delta?.content ?? "");', "}"],
    "completion": ["for await (const chunk of result) {", '  process.stdout.write(chunk.choices[0]?.text ?? "");', "}"],
}
"""How a Node snippet prints a streamed answer, by how the map's row reads it."""


def _base(trace: Trace) -> str:
    """The SDK's base_url: the trace's URL without the action's path (or its query)."""
    path = trace.mapping.path
    url = trace.url.split("?", 1)[0]
    return url[: -len(path)] if url.endswith(path) else url


def _query(trace: Trace) -> dict[str, str]:
    """The query the address carries (values that are secrets already redacted), for the SDKs' default query."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(trace.url.split("?", 1)[1], keep_blank_values=True)) if "?" in trace.url else {}


def _has_key(trace: Trace) -> bool:
    return any(name.lower() == "authorization" for name in trace.request_headers)


def _fields(trace: Trace) -> dict[str, Any]:
    body = trace.request_body
    return {k: v for k, v in body.items() if k not in trace.request_files} if isinstance(body, dict) else {}


def _speech_name(trace: Trace) -> str:
    fmt = _fields(trace).get("response_format") or "mp3"
    return f"{SPEECH_FILE}.{fmt}"


def _shown(trace: Trace, streamed: dict[str, list[str]], text: str, saved: str, whole: str) -> list[str]:
    """How a snippet shows its result: streamed as it comes, the response's text, the sound saved, or the result whole."""
    reads = trace.mapping.reads
    if trace.stream and reads:
        return streamed[reads]
    if reads == "response":
        return [text]
    return [saved] if trace.mapping.sound else [whole]


def curl(trace: Trace) -> str:
    """The request as a curl command line."""
    lines = [f"curl {'--no-buffer ' if trace.stream else ''}{shlex.quote(trace.url)}"]
    body_after = ""
    if _has_key(trace):
        lines.append('-H "Authorization: Bearer $OPENAI_API_KEY"')
    if trace.request_files:
        for name, value in _fields(trace).items():
            text = value if isinstance(value, str) else json.dumps(value)
            lines.append(f"-F {shlex.quote(f'{name}={text}')}")
        for name, filename in trace.request_files.items():
            lines.append(f"-F {shlex.quote(f'{name}=@{filename}')}")
    elif trace.request_body is not None:
        lines.append('-H "Content-Type: application/json"')
        text = json.dumps(trace.request_body, ensure_ascii=False, indent=2)
        if len(text.encode()) <= INLINE_BODY_LIMIT:
            lines.append(f"-d {shlex.quote(text)}")
        else:
            # JSON escapes every line break inside a string, so no line of the body can be the end marker.
            body_after = f"\n{text}\n{HEREDOC_END}"
    if trace.mapping.sound:
        lines.append(f"--output {_speech_name(trace)}")
    if body_after:
        lines.append(f"--data-binary @- <<'{HEREDOC_END}'")
    return " \\\n  ".join(lines) + body_after


def _py_value(value: Any, indent: int) -> str:
    text = pprint.pformat(value, width=76 - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


def python(trace: Trace) -> str:
    """The request with the official openai-python SDK."""
    key = 'os.environ["OPENAI_API_KEY"]' if _has_key(trace) else 'os.environ.get("OPENAI_API_KEY", "none")'
    lines = [
        "import os",
        "",
        "from openai import OpenAI",
        "",
        f"client = OpenAI(base_url={_base(trace)!r}, api_key={key}{f', default_query={_query(trace)!r}' if _query(trace) else ''})",
    ]
    args = []
    for name, value in _fields(trace).items():
        rendered = _py_value(value, 4 + len(name) + 1)
        args.append(f"{name}={rendered}" if name.isidentifier() else f"**{{{name!r}: {rendered}}}")
    for name, filename in trace.request_files.items():
        args.append(f"{name}=open({filename!r}, 'rb')")
    if trace.mapping.retired or not trace.on_map:
        # Current SDKs dropped edits.create, and a path off the map has no gentle method: the request through the SDK's own HTTP call.
        body = _py_value(_fields(trace), 9)
        lines += [f"result = client.post(\n    {trace.mapping.path!r},\n    body={body},\n    cast_to=object,\n)", "print(result)"]
        return "\n".join(lines) + "\n"
    call = f"client.{trace.mapping.sdk_call}("
    call += "".join(f"\n    {arg}," for arg in args) + ("\n)" if args else ")")
    lines.append(f"result = {call}")
    lines += _shown(trace, PYTHON_STREAM_ENDS, "print(result.output_text)", f"result.write_to_file({_speech_name(trace)!r})", "print(result)")
    return "\n".join(lines) + "\n"


def node(trace: Trace) -> str:
    """The request with the official openai-node SDK (an ES module)."""
    key = "process.env.OPENAI_API_KEY" if _has_key(trace) else 'process.env.OPENAI_API_KEY ?? "none"'
    lines = []
    if trace.request_files or trace.mapping.sound:
        lines.append('import fs from "fs";')
    lines += [
        'import OpenAI from "openai";',
        "",
        f"const client = new OpenAI({{ baseURL: {json.dumps(_base(trace))}, apiKey: {key}"
        + (f", defaultQuery: {json.dumps(_query(trace), ensure_ascii=False)}" if _query(trace) else "")
        + " });",
    ]
    members = [
        f"  {json.dumps(name)}: {json.dumps(value, ensure_ascii=False, indent=2).replace(chr(10), chr(10) + '  ')},"
        for name, value in _fields(trace).items()
    ]
    members += [f"  {json.dumps(name)}: fs.createReadStream({json.dumps(filename)})," for name, filename in trace.request_files.items()]
    argument = "{\n" + "\n".join(members) + "\n}" if members else ""
    if trace.mapping.retired or not trace.on_map:
        # Current SDKs dropped edits.create, and a path off the map has no gentle method: the request through the SDK's own HTTP call.
        body = argument.replace("\n", "\n  ")
        lines += [f"const result = await client.post({json.dumps(trace.mapping.path)}, {{\n  body: {body},\n}});", "console.log(result);"]
        return "\n".join(lines) + "\n"
    lines.append(f"const result = await client.{trace.mapping.sdk_call}({argument});")
    saved = f"fs.writeFileSync({json.dumps(_speech_name(trace))}, Buffer.from(await result.arrayBuffer()));"
    lines += _shown(trace, NODE_STREAM_ENDS, "console.log(result.output_text);", saved, "console.log(result);")
    return "\n".join(lines) + "\n"
