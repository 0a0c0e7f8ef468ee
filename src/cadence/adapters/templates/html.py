"""The HTML part's CSS inlined into ``style`` attributes, and attribute values made safe after it."""

from __future__ import annotations

import re

import css_inline

from cadence.adapters.templates.errors import TemplateError

_INLINE_FACTOR = 250  # (tags x characters of <style>) may be this many times the output: bounds CSS inlining

_STYLE_ELEMENT = re.compile(r"<style\b.*?(?:</style\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_MARKUP_START = re.compile(r"<(?:!--|!|/?[A-Za-z])")
_TAG = re.compile(r"""<(/?)([A-Za-z][^\s/>]*)((?:\s+[^\s"=>]+(?:="[^"]*")?)*)(\s*/?>)""")
_ATTRIBUTE_VALUE = re.compile(r'="([^"]*)"')
_BRACKET_IN_VALUE = re.compile(r'="[^"]*[<>]')
_RAW_TEXT_ELEMENTS = frozenset({"style", "script", "xmp", "iframe", "noembed", "noframes", "plaintext", "noscript"})


def _escape_attribute_brackets(html: str) -> str:
    """Escape ``<`` and ``>`` inside attribute values of HTML serialized by ``css_inline``.

    Its serializer leaves them bare in attributes (``href="?a=&quot;><script>"``), which is valid
    HTML but not what the renderer promises: no markup a lead's value brought in shows as markup.
    Text, comments and the content of ``<style>`` and ``<script>`` elements are left as they are.
    """
    if _BRACKET_IN_VALUE.search(html) is None:  # no attribute value holds a bracket: nothing to escape
        return html
    out: list[str] = []
    pos = 0
    size = len(html)
    while pos < size:
        found = _MARKUP_START.search(html, pos)
        if found is None:
            out.append(html[pos:])
            break
        start = found.start()
        out.append(html[pos:start])
        if found.group() == "<!--":
            end = html.find("-->", start + 4)
            pos = size if end < 0 else end + 3
            out.append(html[start:pos])
            continue
        tag = _TAG.match(html, start)
        if tag is None:  # a doctype, or markup the serializer would not write: copy up to its end
            end = html.find(">", start)
            pos = size if end < 0 else end + 1
            out.append(html[start:pos])
            continue
        attributes = _ATTRIBUTE_VALUE.sub(
            lambda m: '="' + m.group(1).replace("<", "&lt;").replace(">", "&gt;") + '"', tag.group(3)
        )
        out.append(f"<{tag.group(1)}{tag.group(2)}{attributes}{tag.group(4)}")
        pos = tag.end()
        element = tag.group(2).lower()
        if not tag.group(1) and element in _RAW_TEXT_ELEMENTS:
            close = re.compile(rf"</{re.escape(element)}[\s/>]", re.IGNORECASE).search(html, pos)
            end = size if close is None else close.start()
            out.append(html[pos:end])
            pos = end
    return "".join(out)


def inline_css(html: str, path: str | None, max_chars: int) -> str:
    """The HTML part with its ``<style>`` rules moved into ``style`` attributes; stylesheets are never loaded."""
    styles = sum(len(m) for m in _STYLE_ELEMENT.findall(html))
    if styles and html.count("<") * styles > max_chars * _INLINE_FACTOR:
        raise TemplateError(
            "the <style> rules would be copied onto too many elements: inline the styles by hand", path=path
        )
    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    try:
        inlined = inliner.inline(html)
    except ValueError as exc:  # css_inline.InlineError
        raise TemplateError(f"cannot inline the CSS of the HTML part: {exc}", path=path) from None
    inlined = _escape_attribute_brackets(inlined)
    if len(inlined) > max_chars:
        raise TemplateError(f"the HTML part is longer than {max_chars} characters once its CSS is inlined", path=path)
    return inlined
