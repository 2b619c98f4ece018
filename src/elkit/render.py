"""An HTML view of linked documents, displaCy-like.

Each mention is highlighted with its label and, when linked, the entity's name; it links to the entity (the KB
record's URL, else a URL pattern such as ``https://www.wikidata.org/wiki/{id}``). Hovering over a mention, or
clicking it (it takes the focus), shows its top candidates with their scores, the chosen one first. The page
has no script: the pop-ups are CSS. All document and KB text is escaped, and only http(s) URLs are linked.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from elkit.doc import NIL, Doc, Span

__all__ = ["render_html"]

_PALETTE = ("#a6e3e9", "#ffd79a", "#c3e88d", "#f7b2bd", "#d4c1ec", "#f9f871", "#b8d8be", "#fcc5a1")

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 2.4; }
.doc { border-bottom: 1px solid #ddd; padding: 0.5rem 0 1rem; white-space: pre-wrap; }
.doc h2 { font-size: 0.9rem; color: #666; margin: 0; line-height: 1.4; }
mark { padding: 0.2em 0.35em; border-radius: 0.35em; position: relative; }
mark:focus { outline: 2px solid #555; }
mark .cands { display: none; position: absolute; left: 0; top: 2em; z-index: 5; background: #fff; color: #222;
  border: 1px solid #bbb; border-radius: 0.3em; padding: 0.3em 0.6em; font-size: 0.8em; line-height: 1.5;
  white-space: nowrap; box-shadow: 0 2px 6px rgba(0,0,0,0.15); }
mark:hover .cands, mark:focus .cands, mark:focus-within .cands { display: block; }
mark .cands .chosen { font-weight: bold; }
mark a { color: inherit; }
mark .label { font-size: 0.65em; font-weight: bold; text-transform: uppercase; margin-left: 0.4em; }
mark .kb { font-size: 0.65em; margin-left: 0.3em; color: #333; }
mark.nil { outline: 1px dashed #999; }
"""


def _safe_url(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else ""


def _entity(kb: Any, entity_id: str, url_pattern: str | None) -> tuple[str, str]:
    """The entity's name and URL (its record's URL, else `url_pattern` with the id; "" when neither)."""
    name, url = entity_id, ""
    if kb is not None and entity_id in kb:
        entity = kb.get_entity(entity_id)
        name = entity.name or entity_id
        url = str(entity.attrs.get("wikipedia_url") or entity.attrs.get("url") or "")
    if not _safe_url(url) and url_pattern:
        url = url_pattern.replace("{id}", quote(entity_id, safe=""))
    return name, _safe_url(url)


def _candidates(span: Span, kb: Any, url_pattern: str | None, top_k: int) -> str:
    if not span.candidates or top_k <= 0:
        return ""
    rows = []
    for candidate in span.candidates[:top_k]:
        name, url = _entity(kb, candidate.entity_id, url_pattern)
        score = f" {candidate.score:.2f}" if candidate.score is not None else ""
        text = f"{html.escape(name)} [{html.escape(candidate.entity_id)}]{score}"
        if url:
            text = f'<a href="{html.escape(url, quote=True)}">{text}</a>'
        chosen = ' class="chosen"' if candidate.entity_id == span.kb_id else ""
        rows.append(f"<span{chosen}>{text}</span>")
    return f'<span class="cands">{"<br>".join(rows)}</span>'


def _mark(span: Span, color: str, kb: Any, url_pattern: str | None, top_k: int) -> str:
    text = html.escape(span.text)
    label = html.escape(span.label)
    popup = _candidates(span, kb, url_pattern, top_k)
    if span.is_linked:
        name, url = _entity(kb, span.kb_id, url_pattern)
        score = f" ({span.link_score:.2f})" if span.link_score is not None else ""
        title = html.escape(f"{name} [{span.kb_id}]{score}", quote=True)
        inner = (f'<a href="{html.escape(url, quote=True)}" title="{title}">{text}</a>' if url
                 else f'<span title="{title}">{text}</span>')
        tail = f'<span class="kb">{html.escape(name)}</span>'
        return (f'<mark tabindex="0" style="background:{color}">{inner}<span class="label">{label}</span>{tail}'
                f"{popup}</mark>")
    nil = ' class="nil" title="NIL: not in the knowledge base"' if span.kb_id == NIL else ""
    return f'<mark tabindex="0" style="background:{color}"{nil}>{text}<span class="label">{label}</span>{popup}</mark>'


def render_html(docs: Iterable[Doc], kb: Any = None, title: str = "elkit", url_pattern: str | None = None,
                top_k: int = 5) -> str:
    """Render documents as one standalone HTML page.

    Args:
        docs: Documents with entity spans (linked or not).
        kb: A knowledge base for entity names and URLs (None shows ids).
        title: The page title.
        url_pattern: An entity's page for entities whose record has no URL, ``{id}`` standing for the
            (URL-quoted) id: ``https://www.wikidata.org/wiki/{id}``.
        top_k: Candidates shown per mention.
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
            pieces.append(_mark(span, color, kb, url_pattern, top_k))
            cursor = span.end_char
        pieces.append(html.escape(doc.text[cursor:]))
        pieces.append("</div>")
        parts.append("".join(pieces))
    parts.append("</body></html>")
    return "\n".join(parts)
