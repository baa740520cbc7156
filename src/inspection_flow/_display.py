"""Small tables of text for notebooks: HTML and Markdown, for the ``_repr_html_`` and
``_repr_markdown_`` of the ledger's values."""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["html_table", "markdown_table"]


def html_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table under a bold title, every value escaped."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return (
        f"<div><strong>{html.escape(title)}</strong>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table under a bold title, pipes escaped."""
    lines = [f"**{_cell(title)}**", ""]
    lines.append("| " + " | ".join(_cell(h) for h in header) + " |")
    lines.append("|" + "---|" * len(header))
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return "\n".join(lines)
