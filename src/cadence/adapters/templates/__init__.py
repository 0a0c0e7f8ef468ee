"""Message templates: emails and rep tasks, written by marketers in Jinja, rendered in a sandbox.

A template named ``NAME`` is the file ``FOLDER/NAME.j2`` (``email/introduction`` is
``templates/email/introduction.j2``). A template whose last part starts with ``_``
(``email/_footer.txt``) is a partial: other templates use it, it is never a message itself.
``{% include %}``, ``{% import %}`` and ``{% extends %}`` take the same names (``.j2`` may be left out).
``trim_blocks`` and ``lstrip_blocks`` are on: a line holding only a ``{% tag %}`` leaves no blank line.

Emails
    An email template has the blocks ``{% block subject %}``, ``{% block text %}`` and, optionally,
    ``{% block html %}``. Each block is rendered on its own; ``{% set %}``, ``{% import %}`` and
    macros at the top level of the file are visible in every block. The subject is made one line
    (whitespace collapsed, at most 250 characters). The plain-text body gets
    ``email/_footer.txt.j2`` appended; the HTML body is wrapped in ``email/_layout.html.j2``, which
    receives it as ``body`` (already HTML) with all the variables below. Both footers must show the
    unsubscribe link and our postal address (CAN-SPAM): rendering refuses an email whose text or
    HTML lacks ``unsubscribe_url`` or a line of ``company.postal_address``.
    Every email has a plain-text part. The HTML part has its CSS inlined (``css_inline``): the rules
    of ``<style>`` elements become ``style=""`` attributes, because many mail clients drop
    ``<style>``; at-rules that cannot be inlined (``@media``, ``@font-face``) stay in a ``<style>``
    element. ``<link rel="stylesheet">`` elements are removed and never loaded.

Tasks
    ``calls/``, ``linkedin/``, ``research/``, ``postcards/`` and ``digest/`` templates are plain
    text for the rep, rendered whole (:meth:`Templates.render_text`).

Escaping
    The HTML block and the layout are rendered with HTML autoescaping: a lead called
    ``<script>`` shows as ``&lt;script&gt;``. The subject, the text body and task templates are
    not escaped (they are plain text).

The variables (the contract between cadence and the people who write templates)
    Every optional value that is absent is ``None`` (never missing), so that
    ``{{ lead.first_name | default("there") }}`` works; ``default`` here also replaces ``None``
    and ``""``. Printing ``None`` is an error (``{{ lead.title }}`` for a lead without a title),
    and so is giving it to ``~``, to a format or to a filter other than ``default``: write
    ``{{ lead.title | default("...") }}`` or ``{% if lead.title %}...{% endif %}``, so that
    :meth:`Templates.check` catches the mistake instead of an email saying "None".
    Misspelt names are errors too (``{{ lead.frist_name }}``). The caller's values are copied as
    plain data (mappings, lists, text, numbers, dates; any other object becomes its text).

    ``lead``
        ``email`` (always set), ``first_name``, ``last_name``, ``full_name`` (first and last name,
        or None), ``title``, ``company`` (their company), ``industry``, ``company_size`` (int),
        ``phone``, ``linkedin_url``, ``city``, ``region``, ``country`` (2 letters), ``timezone``,
        ``source`` (how they came to us: ``contact_request``, ``demo_request``, ``form_fill``,
        ``webinar``, ``content_download``, ``target_page_visit``, ``email_open``,
        ``target_list``...), ``interactions`` (int: how many times they interacted with us),
        ``address_lines`` (list of str: their postal address, printable lines, maybe empty),
        ``custom`` (mapping of the import's custom columns, maybe empty:
        ``lead.custom.topic | default("...")``; use ``lead.custom["items"]`` for a column named
        like a mapping method: ``items``, ``keys``, ``values``, ``get``).
    ``owner``
        The rep who owns the lead: ``name``, ``first_name``, ``email``, ``signature`` (multi-line
        text under the name, e.g. title and phone; may be None).
    ``company``
        Our company, the sender: ``name``, ``website``, ``postal_address`` (may span lines),
        ``benefit`` (optional: one sentence saying what we do for customers, used when an email
        re-introduces us).
    ``step``
        The cadence step: ``number`` (1-based), ``day``, ``channel``, ``total_steps``,
        ``previous_subject`` (subject of the last email sent to this lead, or None),
        ``instructions`` (the step's ``instructions`` in the cadence file, or None).
    ``unsubscribe_url``
        The lead's unsubscribe link (emails).
    ``qualifying_questions``
        List of str: the questions a meeting must answer before it goes to sales.
    ``today``
        Today's date, as text (``2025-03-14``). The rep digest (``digest/rep``) receives a list of
        tasks under this name instead (see below).

    ``digest/rep`` receives ``rep`` (the rep's name, or a mapping with ``name``), ``overdue`` and
    ``today``: lists of tasks, each a mapping with ``lead_name``, ``lead_email``, ``company``,
    ``channel``, ``due_at``, ``instructions_first_line``, ``class`` (and optionally ``title`` and
    ``owner``); optionally ``date`` (the rep's local date), ``escalation`` (true for the copy
    that goes to the manager) and ``late_answers`` (tasks of the same shape: leads that answered and
    wait past the response SLA).

The sandbox
    Templates run in Jinja's immutable sandbox with strict undefined variables: no access to
    ``_private`` attributes, no changing lists or dicts. On top of it, rendering is bounded: at most
    ``max_output_chars`` characters per rendered part and per value, ``range()`` of at most
    :data:`MAX_RANGE` items, :data:`MAX_STEPS` loop iterations and calls, :data:`MAX_INCLUDES`
    template loads and :data:`MAX_SECONDS` seconds per render, format widths of at most
    :data:`MAX_WIDTH`, and a filter whose arguments would multiply its result
    (``tojson(indent=...)``, ``wordwrap(wrapstring=...)``, ``urlize(target=...)``) refused before
    it runs (:mod:`.growth`); a template that includes or calls itself without end stops at Python's
    recursion limit. Functions and objects cannot be printed, formatted or filtered (no class
    names or addresses leak into a message); ``cycler`` and ``lipsum`` are not available. Every fault becomes a
    :class:`TemplateError` naming the file and line. This guards against mistakes and casual
    abuse by template authors; it is not an operating-system sandbox (run untrusted authors'
    templates in a separate, resource-limited process).

The package, one job a module
    :mod:`.folder` (:class:`Templates`: names, versions, rendering under one budget), :mod:`.loader`
    (names and files), :mod:`.sandbox` (the Jinja environment), :mod:`.limits` (the budget and the
    size bounds), :mod:`.growth` (how far each filter's arguments can grow its result),
    :mod:`.parts` (an email's blocks, subject, text and footers), :mod:`.html` (CSS inlining),
    :mod:`.variables` (the variables above and sample sets), :mod:`.errors`.
"""

from cadence.adapters.templates.errors import TemplateError, TemplateProblem
from cadence.adapters.templates.folder import Templates
from cadence.adapters.templates.limits import MAX_INCLUDES, MAX_RANGE, MAX_SECONDS, MAX_STEPS, MAX_WIDTH
from cadence.adapters.templates.loader import MAX_TEMPLATE_BYTES
from cadence.adapters.templates.parts import FOOTER, LAYOUT, MAX_SUBJECT_CHARS, RenderedEmail
from cadence.adapters.templates.variables import (
    DIGEST_VARIABLES,
    LAYOUT_VARIABLES,
    MESSAGE_VARIABLES,
    VARIABLE_KEYS,
    sample_variables,
)

__all__ = [
    "DIGEST_VARIABLES",
    "FOOTER",
    "LAYOUT",
    "LAYOUT_VARIABLES",
    "MAX_INCLUDES",
    "MAX_RANGE",
    "MAX_SECONDS",
    "MAX_STEPS",
    "MAX_SUBJECT_CHARS",
    "MAX_TEMPLATE_BYTES",
    "MAX_WIDTH",
    "MESSAGE_VARIABLES",
    "VARIABLE_KEYS",
    "RenderedEmail",
    "TemplateError",
    "TemplateProblem",
    "Templates",
    "sample_variables",
]
