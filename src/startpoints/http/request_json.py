"""A request body read as cyber-dojo's start-points server reads it, errors worded as it words
them, so error bodies are byte-equal (tests/http/test_differential.py runs both servers).

That server (Ruby's `JSON.parse`, json 2.6) takes an empty body as `{}` and anything else as
JSON: whitespace alone is a `JSON::ParserError`, nesting deeper than 100 a
`JSON::NestingError`, and a JSON value that is not an object a `ClientError` (`json:malformed`).
Its parser's messages name the line of its own source that gave up and the text from where it
did: `859: unexpected token at '…'`. The values come from Python's parser (NaN and Infinity
refused, as there); only the message of a failure is worked out here, by walking the text as
Ruby's state machines do: an array gives up where its element or separator fails (451), an
object or a scalar hands the failure up to where its value began, NaN (225) and -Infinity
(249) are refused where they stand. Ruby's parser also takes `/* */` and `//` comments as
white space (and an unfinished one as an error where it stops), so a body it accepts with
comments is parsed here without them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from startpoints.core import strictjson

MAX_NESTING = 100  # Ruby's JSON.parse default
_WS = frozenset(" \t\r\n")
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|/\*.*?\*/|//[^\n]*\n', re.S)
_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")
_FLOAT = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)")
# Ruby's string machine: no raw control characters; `\\u` and four hex digits, or a backslash
# and any other character (`\\q` is `q` there, an error in JSON)
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\u[0-9a-fA-F]{4}|\\[^u\x00-\x1f])*"')
_ESCAPE = re.compile(r"\\(.)", re.S)
_JSON_ESCAPES = frozenset('"\\/bfnrtu')


class BodyError(Exception):
    """The body cannot be the server's arguments: `kind` is the error class it reports."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def arguments(body: bytes) -> dict[str, Any]:
    """The body's arguments, or BodyError as cyber-dojo's server would raise it."""
    if body == b"":
        return {}
    text = body.decode("utf-8", errors="replace")
    try:
        strictjson.check_depth(text, MAX_NESTING)
    except strictjson.TooDeep:
        raise BodyError("JSON::NestingError", f"nesting of {MAX_NESTING + 1} is too deep") from None
    try:
        value = json.loads(text, parse_constant=_refuse)
    except (ValueError, RecursionError):
        if (message := _refusal(text)) is not None:
            raise BodyError("JSON::ParserError", message) from None
        try:  # Ruby's parser takes it: comments, or an escape JSON does not have
            value = json.loads(_as_json(text), parse_constant=_refuse)
        except (ValueError, RecursionError):
            raise BodyError("JSON::ParserError", f"859: unexpected token at '{text}'") from None
    if not isinstance(value, dict):
        raise BodyError("ClientError", "json:malformed")
    return value


def _refuse(name: str) -> Any:
    raise ValueError(name)


def _as_json(text: str) -> str:
    """Text Ruby's parser takes, as JSON meaning the same: each comment a space, and in each
    string an escape JSON does not have (`\\q`) the character alone, as Ruby unescapes it."""
    return _TOKENS.sub(
        lambda m: _ESCAPE.sub(_unescaped, m.group()) if m.group().startswith('"') else " ", text
    )


def _unescaped(match: re.Match[str]) -> str:
    return match.group() if match.group(1) in _JSON_ESCAPES else match.group(1)


class _Gave(Exception):
    def __init__(self, line: int, at: int) -> None:
        self.line, self.at = line, at


def _refusal(text: str) -> str | None:
    """What Ruby's parser says of `text`, or None when it takes it."""
    try:
        at = _skip_or_give_up(text, 0, 859)
        if at == len(text):
            raise _Gave(859, at)
        end = _value(text, at)
        if end is None:
            raise _Gave(859, at)
        rest = _skip_or_give_up(text, end, 859)
        if rest < len(text):
            raise _Gave(859, rest)
        return None
    except _Gave as gave:
        return f"{gave.line}: unexpected token at '{text[gave.at :]}'"


def _skip(text: str, at: int) -> int:
    """Past white space and comments. An unfinished comment gives up where it stops: at the
    end of the text, or just past a `/` that starts none."""
    while at < len(text):
        if text[at] in _WS:
            at += 1
        elif text.startswith("/*", at):
            end = text.find("*/", at + 2)
            if end < 0:
                raise _Halted(len(text))
            at = end + 2
        elif text.startswith("//", at):
            end = text.find("\n", at + 2)
            if end < 0:
                raise _Halted(len(text))
            at = end + 1
        elif text[at] == "/":
            raise _Halted(at + 1)
        else:
            break
    return at


class _Halted(Exception):
    """An unfinished comment: where the parser stopped."""

    def __init__(self, at: int) -> None:
        self.at = at


def _skip_or_give_up(text: str, at: int, line: int) -> int:
    """_skip, where an unfinished comment is an error raised on the spot (arrays, the top)."""
    try:
        return _skip(text, at)
    except _Halted as halted:
        raise _Gave(line, halted.at) from None


def _value(text: str, at: int) -> int | None:
    """Where the value at `at` ends, None when it hands the failure up; raises _Gave where
    Ruby's parser raises on the spot."""
    if text.startswith("NaN", at):
        raise _Gave(225, at)
    if text.startswith("-Infinity", at):
        raise _Gave(249, at)
    if text.startswith("Infinity", at):
        raise _Gave(232, at + len("Infinity"))
    for word in ("true", "false", "null"):
        if text.startswith(word, at):
            return at + len(word)
    if text.startswith("[", at):
        return _array(text, at + 1)
    if text.startswith("{", at):
        return _object(text, at + 1)
    if match := _STRING.match(text, at):
        return match.end()
    return _number(text, at)


def _number(text: str, at: int) -> int | None:
    """Ruby's float machine gives way when `.`, `e`, `E` or `-` follows it, and the integer
    machine is tried instead, which takes the digits alone; a leading zero followed by a digit
    is no number at all."""
    if (match := _FLOAT.match(text, at)) and text[match.end() : match.end() + 1] not in tuple(
        ".eE-"
    ):
        return match.end()
    if match := _INTEGER.match(text, at):
        return None if text[match.end() : match.end() + 1].isdigit() else match.end()
    return None


def _array(text: str, at: int) -> int:
    at = _skip_or_give_up(text, at, 451)
    if text.startswith("]", at):
        return at + 1
    while True:
        end = _value(text, at)
        if end is None:
            raise _Gave(451, at)
        at = _skip_or_give_up(text, end, 451)
        if text.startswith("]", at):
            return at + 1
        if not text.startswith(",", at):
            raise _Gave(451, at)
        at = _skip_or_give_up(text, at + 1, 451)


def _object(text: str, at: int) -> int | None:
    """Where the object ends, None when it hands its failure up (an unfinished comment too)."""
    try:
        return _object_body(text, at)
    except _Halted:
        return None


def _object_body(text: str, at: int) -> int | None:
    at = _skip(text, at)
    if text.startswith("}", at):
        return at + 1
    while True:
        key = _STRING.match(text, at)
        if key is None:
            return None
        at = _skip(text, key.end())
        if not text.startswith(":", at):
            return None
        end = _value(text, _skip(text, at + 1))
        if end is None:
            return None
        at = _skip(text, end)
        if text.startswith("}", at):
            return at + 1
        if not text.startswith(",", at):
            return None
        at = _skip(text, at + 1)
