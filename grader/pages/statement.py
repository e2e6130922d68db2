"""Exercise statements (Markdown) as safe HTML: code highlighted, math as MathML, nothing that
runs.

Markdown is parsed by markdown-it-py with raw HTML off, fenced code is highlighted by Pygments
(CSS classes, no inline styles), ``$...$`` and ``$$...$$`` become MathML (latex2mathml; Chromium
and Firefox render it without JavaScript), and the result goes through nh3 (Ammonia) with an
allow-list: no ``<script>``, no event handlers, no ``javascript:`` URLs, whatever an uploaded
statement holds. The same sanitiser cleans every other instructor-written text shown as HTML.
"""

from __future__ import annotations

import functools
from html import escape
from typing import Any

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

MATHML_TAGS = {
    "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace",
    "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot", "mover", "munder", "munderover",
    "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom", "menclose", "mmultiscripts",
    "mprescripts", "none",
}
MATHML_ATTRIBUTES = {
    "display", "xmlns", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
    "form", "accent", "accentunder", "width", "columnalign", "displaystyle", "scriptlevel",
    "encoding", "linethickness", "notation", "minsize", "maxsize", "largeop", "movablelimits",
    "symmetric",
}
HTML_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "em", "strong", "code",
    "pre", "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "img", "span",
    "div", "del", "s", "sub", "sup", "kbd",
}
ALLOWED_TAGS = HTML_TAGS | MATHML_TAGS
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "span": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "div": {"class"},
    **{tag: set(MATHML_ATTRIBUTES) for tag in MATHML_TAGS},
}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize(html: str) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes of ``html``."""
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow", filter_style_properties={"text-align"},
        strip_comments=True,
    )


def _spans(code: str, lang: str) -> str:
    try:
        lexer = get_lexer_by_name(lang or "python")
    except ClassNotFound:
        return escape(code)
    html: str = highlight(code, lexer, HtmlFormatter(nowrap=True, classprefix="hl-"))
    return html


def _fence(code: str, lang: str, attrs: str) -> str:
    # markdown-it keeps a highlighter's output that starts with "<pre" as it is.
    return f'<pre class="hl"><code>{_spans(code, lang)}</code></pre>'


def _math(content: str, options: dict[str, Any]) -> str:
    display = "block" if options.get("display_mode") else "inline"
    try:
        return str(latex_to_mathml(content, display=display))
    except Exception:  # an unparsable formula is shown as its source, not as an error
        return f"<code>{escape(content)}</code>"


@functools.cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                   "highlight": _fence})
    md.enable(["table", "strikethrough"])
    dollarmath_plugin(md, allow_space=False, allow_digits=False, double_inline=True,
                      renderer=_math)
    return md


@functools.lru_cache(maxsize=256)
def render_markdown(text: str) -> Markup:
    """A statement (Markdown) as sanitised HTML, safe to put in a page."""
    return Markup(sanitize(_parser().render(text)))


def highlight_python(code: str) -> Markup:
    """Python source as highlighted HTML lines (for read-only code: diffs, starter code)."""
    return Markup(_spans(code, "python"))


def pygments_css() -> str:
    """The stylesheet of the highlighting classes (written to ``static/css/code.css``)."""
    formatter: Any = HtmlFormatter(style="default", classprefix="hl-")
    rules = formatter.get_style_defs(".hl")
    return "\n".join(line for line in str(rules).splitlines() if line.startswith(".hl "))


def render_inline(text: str) -> Markup:
    """One line of Markdown (a hint: code spans, emphasis, links) as sanitised HTML."""
    return Markup(sanitize(_parser().renderInline(text)))
