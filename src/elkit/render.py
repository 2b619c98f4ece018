"""An HTML view of linked documents, displaCy-like.

Each mention is highlighted with its label; a linked mention links to the entity (when the KB has a URL) and
has a tooltip with the entity name and the score. All document and KB text is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from elkit.doc import NIL, Doc, Span

__all__ = ["render_html"]

_PALETTE = ("#a6e3e9", "#ffd79a", "#c3e88d", "#f7b2bd", "#d4c1ec", "#f9f871", "#b8d8be", "#fcc5a1")

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 2.4; }
.doc { border-bottom: 1px solid #ddd; padding: 0.5rem 0 1rem; white-space: pre-wrap; }
.doc h2 { font-size: 0.9rem; color: #666; margin: 0; line-height: 1.4; }
mark { padding: 0.2em 0.35em; border-radius: 0.35em; }
mark a { color: inherit; }
mark .label { font-size: 0.65em; font-weight: bold; text-transform: uppercase; margin-left: 0.4em; }
mark .kb { font-size: 0.65em; margin-left: 0.3em; color: #333; }
mark.nil { outline: 1px dashed #999; }
"""


def _entity_name(kb: Any, entity_id: str) -> tuple[str, str]:
    if kb is None or entity_id not in kb:
        return entity_id, ""
    entity = kb.get_entity(entity_id)
    url = str(entity.attrs.get("wikipedia_url") or entity.attrs.get("url") or "")
    return entity.name or entity_id, url if url.startswith(("http://", "https://")) else ""


def _mark(doc: Doc, span: Span, color: str, kb: Any) -> str:
    text = html.escape(span.text)
    label = html.escape(span.label)
    if span.is_linked:
        name, url = _entity_name(kb, span.kb_id)
        score = f" ({span.link_score:.2f})" if span.link_score is not None else ""
        title = html.escape(f"{name} [{span.kb_id}]{score}", quote=True)
        inner = (f'<a href="{html.escape(url, quote=True)}" title="{title}">{text}</a>' if url
                 else f'<span title="{title}">{text}</span>')
        tail = f'<span class="kb">{html.escape(name)}</span>'
        return f'<mark style="background:{color}">{inner}<span class="label">{label}</span>{tail}</mark>'
    nil = ' class="nil" title="NIL: not in the knowledge base"' if span.kb_id == NIL else ""
    return f'<mark style="background:{color}"{nil}>{text}<span class="label">{label}</span></mark>'


def render_html(docs: Iterable[Doc], kb: Any = None, title: str = "elkit") -> str:
    """Render documents as one standalone HTML page.

    Args:
        docs: Documents with entity spans (linked or not).
        kb: A knowledge base for entity names and URLs (None shows ids).
        title: The page title.
    """
    colors: dict[str, str] = {}
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"]
    for number, doc in enumerate(docs):
        heading = html.escape(str(doc.meta.get("id", number + 1)))
        pieces = [f'<div class="doc"><h2>{heading}</h2>']
        cursor = 0
        for span in sorted(doc.ents, key=lambda item: item.start_char):
            if span.start_char < cursor:
                continue
            color = colors.setdefault(span.label, _PALETTE[len(colors) % len(_PALETTE)])
            pieces.append(html.escape(doc.text[cursor: span.start_char]))
            pieces.append(_mark(doc, span, color, kb))
            cursor = span.end_char
        pieces.append(html.escape(doc.text[cursor:]))
        pieces.append("</div>")
        parts.append("".join(pieces))
    parts.append("</body></html>")
    return "\n".join(parts)
