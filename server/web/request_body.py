"""The one reader of JSON request bodies: a JSON object, or a 400 naming what is wrong with it.

Python's json module raises RecursionError on deep nesting, ValueError on integers past 4,300
digits and accepts NaN and Infinity; none of that may reach a view. Every body is checked
before and while parsing, so a view only ever sees a dict of plain values.
"""

from __future__ import annotations

import json
import math
import re

from starlette.requests import Request

from server.web.errors import ApiError

MAX_DEPTH = 16  # objects and arrays inside one another; the API's deepest body uses 3
MAX_NUMBER_CHARS = 32  # digits, sign, point and exponent of one number
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(ValueError):
    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.message = message
        self.reason = reason


def _refuse(message: str, reason: str) -> ApiError:
    return ApiError(400, message, {"body": reason})


def _too_deep(text: str) -> bool:
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def _storable(value) -> bool:
    # Neither PostgreSQL text nor UTF-8 can hold a NUL or a lone surrogate ("\\ud800" in JSON).
    if isinstance(value, str):
        return "\x00" not in value and not _SURROGATE.search(value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def _integer(raw: str) -> int:
    if len(raw) > MAX_NUMBER_CHARS:
        raise _Refused(f"Numbers are limited to {MAX_NUMBER_CHARS} characters.", "number too long")
    return int(raw)


def _decimal(raw: str) -> float:
    if len(raw) > MAX_NUMBER_CHARS:
        raise _Refused(f"Numbers are limited to {MAX_NUMBER_CHARS} characters.", "number too long")
    value = float(raw)
    if not math.isfinite(value):
        raise _Refused("Numbers must be finite.", "number out of range")
    return value


def _constant(raw: str):
    raise _Refused(f"{raw} is not a JSON number.", "not a number")


def parse_json_object(raw: bytes) -> dict:
    """The JSON object in these bytes (UTF-8); ApiError 400 with details {"body": reason} otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("The request body is not valid UTF-8.", "invalid utf-8") from None
    if not text.strip():
        raise _refuse("Send a JSON object.", "missing")
    if _too_deep(text):
        raise _refuse(f"JSON nested more than {MAX_DEPTH} levels deep is refused.", "too deep")
    try:
        body = json.loads(text, parse_int=_integer, parse_float=_decimal, parse_constant=_constant)
    except _Refused as exc:
        raise _refuse(exc.message, exc.reason) from None
    except (ValueError, RecursionError):
        raise _refuse("The request body is not valid JSON.", "invalid") from None
    if not isinstance(body, dict):
        raise _refuse("Send a JSON object.", "not an object")
    if not _storable(body):
        raise _refuse("Text may not contain NUL characters or lone surrogates.", "invalid text")
    return body


async def json_object(request: Request) -> dict:
    """The request's JSON object body; ApiError 400 naming the body when it is anything else."""
    return parse_json_object(await request.body())
