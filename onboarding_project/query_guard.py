"""Refuse admin requests whose query string holds a NUL byte or bytes that are not UTF-8: 400.

Django decodes a query string leniently (undecodable bytes become U+FFFD) and PostgreSQL refuses
NUL in any text, so a list filter or search given ``%00`` reached the database and answered 500.
The raw query string is checked once here, before any admin view or filter parses it.
"""

from urllib.parse import unquote_to_bytes

from django.core.exceptions import BadRequest

GUARDED_PREFIXES = ("/admin/",)


def query_string_is_clean(query_string: str) -> bool:
    """Return whether every name and value of ``query_string`` is NUL-free UTF-8 once percent-decoded."""
    for part in query_string.split("&"):
        for piece in part.partition("=")[::2]:
            raw = unquote_to_bytes(piece.replace("+", " "))
            if b"\x00" in raw:
                return False
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True


class QueryStringGuardMiddleware:
    """Answer 400 (Django's bad request page) to an admin URL with an unusable query string."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(GUARDED_PREFIXES) and not query_string_is_clean(
            request.META.get("QUERY_STRING", "")
        ):
            raise BadRequest("The query string holds a NUL byte or is not UTF-8.")
        return self.get_response(request)
