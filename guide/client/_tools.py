"""Tools on the wire: Python functions become the spec's tool schema; tool calls are run and answered. No I/O.

`tool_spec(now)` reads a typed function (name, docstring, annotations) into `{"type": "function", "function": {...}}`;
a dict in that shape is used as written; a `Tool` brings its spec and a `run` taking the arguments as a dict (maybe
async). A `Toolbox` asks the `before_tool` hook, runs the tools a reply names and writes their results as `tool`
messages. What the model sends is untrusted: arguments that are not a JSON object, a tool that does not exist, or a
function that fails become an error the model reads in the tool message, never an exception here.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, Union

from ._errors import RequestRefused

DECLINED = "The user declined this call."
"""What the model reads when `before_tool` answers False."""

MAX_ROUNDS = 8
"""Round trips `run_tools=True` makes at most before it stops asking."""
MAX_CALLS = 64
"""Tool calls guide reads from one reply (more is not a reply it trusts)."""
MAX_RESULT = 32_000
"""Characters of a tool's result sent back (the rest is cut, and it says so)."""
MAX_ARGUMENTS = 64_000
"""Characters of a tool call's arguments guide parses."""

SIMPLE: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


@dataclass(frozen=True)
class ToolCall:
    """One tool call a reply asked for: its id, the function's name, and its arguments as JSON text."""

    id: str
    name: str
    arguments: str

    def as_dict(self) -> dict[str, Any]:
        """The call as the spec writes it in an assistant message."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    def shown(self) -> str:
        """`now()` or `calculate(expression='2+2')`, for a person to read."""
        try:
            parsed = json.loads(self.arguments) if self.arguments.strip() else {}
        except ValueError:
            return f"{self.name}({self.arguments[:60]})"
        if not isinstance(parsed, dict):
            return f"{self.name}({self.arguments[:60]})"
        return f"{self.name}({', '.join(f'{key}={_short(value)}' for key, value in list(parsed.items())[:8])})"


@dataclass(frozen=True)
class Tool:
    """A tool given as its spec and a function to run: `run` takes the arguments as a dict and returns the result text
    (or an awaitable of it); an exception it raises becomes error text the model reads."""

    spec: dict[str, Any]
    run: Callable[[dict[str, Any]], Awaitable[str] | str]


ToolInput: TypeAlias = Tool | Callable[..., Any] | Mapping[str, Any]
Decision: TypeAlias = bool | str
"""What `before_tool` answers: True runs the call; False or a text does not, and the model reads why."""
BeforeTool: TypeAlias = Callable[[ToolCall], Awaitable[Decision]]
"""The async hook awaited before each tool call runs (the sync client takes a plain callable)."""


SHOWN_VALUE = 60
"""Characters of one argument shown in a call's one line (a model can send 60 KB as an argument)."""


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= SHOWN_VALUE else shown[: SHOWN_VALUE - 1] + "…"


def tool_spec(tool: ToolInput) -> dict[str, Any]:
    """The spec's tool object for a typed function (or a tool dict or a Tool's spec, checked and used as written)."""
    if isinstance(tool, Tool):
        tool = tool.spec
    if isinstance(tool, Mapping):
        given = tool.get("function")
        if tool.get("type") != "function" or not isinstance(given, Mapping) or not isinstance(given.get("name"), str):
            shape = "{'type': 'function', 'function': {'name': ..., 'parameters': ...}}"
            raise RequestRefused(f"A tool dict must be {shape}.", hint="Or pass the function itself.")
        return dict(tool)
    if not callable(tool):
        raise TypeError("a tool is a typed function or a tool dict")
    name = getattr(tool, "__name__", "")
    if not name or name == "<lambda>":
        raise RequestRefused("A tool needs a name: pass a function defined with def, or a tool dict.")
    function: dict[str, Any] = {"name": name}
    doc = inspect.getdoc(tool)
    if doc:
        function["description"] = doc.strip()
    function["parameters"] = parameters_of(tool)
    return {"type": "function", "function": function}


def parameters_of(function: Callable[..., Any]) -> dict[str, Any]:
    """The JSON schema of a function's parameters, from its annotations (those without a default are required)."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # annotations that cannot be resolved describe nothing
        hints = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        properties[parameter.name] = schema_of(hints.get(parameter.name, Any))
        if parameter.default is parameter.empty:
            required.append(parameter.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def schema_of(annotation: Any) -> dict[str, Any]:
    """The JSON schema of one annotation (an unknown one allows anything)."""
    if annotation in SIMPLE:
        return {"type": SIMPLE[annotation]}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        options = [schema_of(arg) for arg in args if arg is not type(None)]
        return options[0] if len(options) == 1 else {"anyOf": options}
    if annotation in (list, tuple) or origin in (list, tuple, Sequence, Iterable):
        return {"type": "array", "items": schema_of(args[0])} if args else {"type": "array"}
    if annotation is dict or origin in (dict, Mapping):
        return {"type": "object"}
    return {}


class Toolbox:
    """The tools offered to a think call: their specs to send, and what runs each one."""

    def __init__(self, tools: Iterable[ToolInput]) -> None:
        self.specs: list[dict[str, Any]] = []
        self.runners: dict[str, Callable[[dict[str, Any]], Any]] = {}
        for tool in tools:
            spec = tool_spec(tool)
            self.specs.append(spec)
            if isinstance(tool, Tool):
                self.runners[spec["function"]["name"]] = tool.run
            elif callable(tool) and not isinstance(tool, Mapping):
                self.runners[spec["function"]["name"]] = _keywords(tool)

    def _runner(self, call: ToolCall) -> tuple[Callable[[dict[str, Any]], Any], dict[str, Any]] | str:
        """What runs the call and its arguments, or the error text the model reads instead."""
        runner = self.runners.get(call.name)
        if runner is None:
            return f"error: there is no tool named {call.name!r}."
        if len(call.arguments) > MAX_ARGUMENTS:
            return "error: the arguments were too long."
        try:
            arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        except (ValueError, RecursionError):
            return "error: the arguments were not JSON."
        if not isinstance(arguments, dict):
            return "error: the arguments were not a JSON object."
        return runner, arguments

    def run(self, call: ToolCall) -> str:
        """The tool's result as text; a failure is told to the model as text too."""
        found = self._runner(call)
        if isinstance(found, str):
            return found
        runner, arguments = found
        try:
            result = runner(arguments)
            if inspect.isawaitable(result):  # an async tool called from sync code: run on a loop of its own
                result = asyncio.run(_awaited(result))
        except Exception as error:  # the model sent arguments the tool refuses: it reads why
            return f"error: {type(error).__name__}: {error}"
        return result_text(result)

    async def arun(self, call: ToolCall) -> str:
        """`run` for asyncio: an async tool is awaited on the caller's loop, a plain one runs in a worker thread."""
        found = self._runner(call)
        if isinstance(found, str):
            return found
        runner, arguments = found
        try:
            result = await runner(arguments) if inspect.iscoroutinefunction(runner) else await asyncio.to_thread(runner, arguments)
            if inspect.isawaitable(result):
                result = await result
        except Exception as error:
            return f"error: {type(error).__name__}: {error}"
        return result_text(result)

    def answers(self, calls: Sequence[ToolCall], before_tool: Callable[[ToolCall], Decision] | None = None) -> list[str]:
        """The result text answering each call, in order (a call `before_tool` declines is not run)."""
        results = []
        for call in calls:
            instead = declined(before_tool(call)) if before_tool else None
            results.append(self.run(call) if instead is None else instead)
        return results

    async def aanswers(self, calls: Sequence[ToolCall], before_tool: BeforeTool | None = None) -> list[str]:
        """`answers` for asyncio: the hook is awaited on the caller's loop before each call runs."""
        results = []
        for call in calls:
            instead = declined(await before_tool(call)) if before_tool else None
            results.append(await self.arun(call) if instead is None else instead)
        return results


def _keywords(function: Callable[..., Any]) -> Callable[[dict[str, Any]], Any]:
    """A typed function called with the arguments as keywords (an async one stays async)."""
    if inspect.iscoroutinefunction(function):

        async def awaited(arguments: dict[str, Any]) -> Any:
            return await function(**arguments)

        return awaited
    return lambda arguments: function(**arguments)


async def _awaited(result: Awaitable[Any]) -> Any:
    return await result


def declined(decision: Decision) -> str | None:
    """What the model reads instead of a result when the hook said no (None: run the call)."""
    if decision is True:
        return None
    return decision if isinstance(decision, str) else DECLINED


def result_text(result: Any) -> str:
    """A tool's result as the text sent back, cut to MAX_RESULT."""
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_RESULT else text[:MAX_RESULT] + f"… (cut: {len(text):,} characters)"


def answered(calls: Sequence[ToolCall], results: Sequence[str]) -> list[dict[str, Any]]:
    """The `tool` messages answering each call, in order."""
    return [{"role": "tool", "tool_call_id": call.id, "content": result} for call, result in zip(calls, results)]


def asked(text: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
    """The assistant message that asked for the calls, as it goes back in the history."""
    return {"role": "assistant", "content": text or None, "tool_calls": [call.as_dict() for call in calls]}


def tool_calls_of(value: Any) -> list[dict[str, Any]] | None:
    """A finished message's tool_calls in the spec's shape, or None if they are not that shape."""
    if not isinstance(value, list) or len(value) > MAX_CALLS:
        return None
    calls = []
    for item in value:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            return None
        arguments = function.get("arguments", "")
        if isinstance(arguments, dict):  # some servers send the object itself
            arguments = json.dumps(arguments)
        if not isinstance(arguments, str):
            return None
        ident = item.get("id") if isinstance(item.get("id"), str) else ""
        calls.append({"id": ident, "type": "function", "function": {"name": function["name"], "arguments": arguments}})
    return calls


def as_tool_calls(raw: Sequence[dict[str, Any]]) -> tuple[ToolCall, ...]:
    """Checked tool-call dicts as ToolCalls (an id the server left out is made up, so the answer can name it)."""
    return tuple(
        ToolCall(call.get("id") or f"call_{index}", call["function"]["name"], call["function"].get("arguments") or "")
        for index, call in enumerate(raw)
        if call.get("function", {}).get("name")
    )
