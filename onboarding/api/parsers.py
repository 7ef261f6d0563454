"""A JSON parser that turns every malformed or oversized body into a clean 400/413."""

import json
import math

from django.conf import settings
from rest_framework import exceptions, parsers


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf, which PostgreSQL's jsonb refuses
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _unique_keys(pairs: list) -> dict:
    """Build a JSON object, refusing a key given twice (json.loads would silently keep the last)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {repeated[:40]!r} appears twice in one object")
    return data


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(parsers.JSONParser):
    """Parse a JSON body of at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes into storable values.

    DRF reads the request stream itself, so Django's own body-size check never runs: this
    parser applies it. Values PostgreSQL cannot store (NaN/Infinity, NUL characters, lone
    surrogates), nesting deep enough to exhaust recursion and a key repeated in one object are
    parse errors, not 500s nor "last one wins".
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            data = json.loads(
                raw.decode(encoding),
                parse_float=_finite_float,
                parse_constant=_reject_constant,
                object_pairs_hook=_unique_keys,
            )
            _check_storable(data)
        except (ValueError, RecursionError, UnicodeError, LookupError) as exc:  # LookupError: charset=rot13
            raise exceptions.ParseError(f"JSON parse error - {str(exc)[:200]}") from exc
        return data


def _check_storable(data) -> None:
    """Raise ValueError for a string (or key) PostgreSQL cannot store: NUL or a lone surrogate."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise ValueError("text may not contain NUL characters")
            value.encode("utf-8")  # UnicodeEncodeError on a lone surrogate
