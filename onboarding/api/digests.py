"""Stable digests of JSON documents: the progress checksum, the manifest's ETag, a request's fingerprint."""

import hashlib
import json


def json_digest(value) -> str:
    """Return a stable SHA-256 of a JSON value (key order and whitespace do not matter)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def answers_checksum(answers: dict) -> str:
    """Return the progress document's checksum of the answers."""
    return json_digest(answers)
