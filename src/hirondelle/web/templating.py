"""The Jinja2 templates of web/ (`web/templates/`, autoescaped), loaded once for every page."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

TEMPLATES = Environment(
    loader=PackageLoader("hirondelle.web", "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def render(name: str, **values: Any) -> str:
    return TEMPLATES.get_template(name).render(**values)
