"""``{% module_preloads %}``: a ``<link rel="modulepreload">`` for every module the client's entry script reaches."""

from django import template
from django.utils.html import format_html_join

from ..wizard.module_graph import ENTRY, module_preload_urls

register = template.Library()


@register.simple_tag
def module_preloads(entry: str = ENTRY):
    """Render the preload links of ``entry``'s module graph (see onboarding.wizard.module_graph)."""
    return format_html_join(
        "\n  ", '<link rel="modulepreload" href="{}">', ((url,) for url in module_preload_urls(entry))
    )
