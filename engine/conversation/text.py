"""The words of a conversation: Markdown made into safe HTML, the plain text a mail carries, and a
customer's reply without the mail it quotes.

Rendering and sanitising are left to maintained libraries: markdown-it-py (CommonMark) renders, with raw
HTML off, so a customer writing about their ``<table>`` template sees their words, not a table; nh3 (the
Ammonia sanitiser) then keeps only the tags Markdown makes and links to http, https and mailto, whatever
a renderer bug or a future option lets through. Pictures are shown as links: a picture from elsewhere
would tell its server who reads the call, and the desk's pages load nothing from outside.
"""

from __future__ import annotations

import re

import nh3
from mailparser_reply import EmailReplyParser
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

# What Markdown makes, and nothing else (no pictures, no style: the pages' CSP allows no inline style).
ALLOWED_TAGS = frozenset(
    {"p", "br", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li", "hr", "a"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"}
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
# The languages whose "On ... wrote:" and "From:/Sent:" headers the quote finder knows (English always).
REPLY_LANGUAGES = ("en", "de", "fr", "nl", "es", "it")
# Longer text is kept whole: the quote finder takes about half a second per megabyte, inside the
# transaction that files the mail, and a mail this long is a pasted log, not a reply above a quote.
QUOTE_SEARCH_CHARS = 200_000


def _markdown() -> MarkdownIt:
    # breaks: a line break typed is a line break shown, as people expect of a message (not of a document).
    renderer = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    renderer.add_render_rule("image", _image_as_link)
    return renderer


def _image_as_link(renderer, tokens, index, options, env) -> str:
    token = tokens[index]
    label = escape(token.content or token.attrGet("src") or "picture")
    return f'<a href="{escape(token.attrGet("src") or "")}">{label}</a>'


_MARKDOWN = _markdown()  # configured once; rendering keeps no state between calls


def render_html(source: str) -> Markup:
    """Markdown as HTML that is safe to put in a page or a mail."""
    html = _MARKDOWN.render(source)
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
    )
    return Markup(cleaned)  # noqa: S704  (sanitised by nh3 just above)


def plain_html(text: str) -> Markup:
    """Text that is not Markdown (a customer's mail) as HTML: escaped, its line breaks kept."""
    return Markup("<br>\n").join(escape(line) for line in text.splitlines())


def plain_text(source: str) -> str:
    """The text part of a mail: the Markdown source itself, which is written to be read as it is
    (GitHub's notification mails do the same); only its line endings are made one kind."""
    return source.replace("\r\n", "\n").replace("\r", "\n").strip() + "\n"


def without_quoted_mail(text: str) -> str:
    """What the customer wrote in a reply, without the mail it quotes below ("On ... wrote:" and its
    "> " lines, Outlook's "-----Original Message-----" or "From: ... Sent: ..." block). Answers written
    between quoted lines keep their quotes: those are the questions they answer. When nothing is left
    (a mail that is only a quote), the whole text."""
    if len(text) > QUOTE_SEARCH_CHARS:
        return text.strip()
    found = _quote_finder().parse_reply(text=text) or ""
    found = re.sub(r"\n{3,}", "\n\n", found).strip()
    return found or text.strip()


def _quote_finder() -> EmailReplyParser:
    return EmailReplyParser(languages=list(REPLY_LANGUAGES))
