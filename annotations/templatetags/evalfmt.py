"""Number formatting for report pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def pvalue(value: float | None) -> str:
    """p-values as people read them: 'p < 0.001' below a thousandth, else three decimals."""
    if value is None:
        return "—"
    if value < 0.001:
        return "p < 0.001"
    return f"p = {value:.3f}"
