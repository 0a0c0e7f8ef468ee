"""What a reply says: intents by language, the dates and people it names, quotes that never decide, the corpus."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadence.core.intent import (
    INTENTS,
    MAX_EVIDENCE,
    UNSAFE_PAIRS,
    Reading,
    Referral,
    back_date,
    find_referral,
    named_date,
    read_message,
    read_text,
    reply_text,
)

AT = datetime(2026, 12, 7, 9, 15, tzinfo=UTC)  # a Monday
TODAY = AT.date()
CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "replies"
LABELS: dict[str, dict[str, Any]] = json.loads((CORPUS / "labels.json").read_text(encoding="utf-8"))


def parse(raw: str | bytes) -> EmailMessage:
    data = raw.encode() if isinstance(raw, str) else raw
    message = email.message_from_bytes(
        data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    return message


def read(text: str) -> Reading:
    return read_text(text, at=AT, sender="lead@acme.example")


# -- short cases, by intent and language -------------------------------------------------------------

CASES = [
    ("interested", "en", "Sounds good, call me Tuesday."),
    ("interested", "en", "Yes, happy to chat. Can you send an invite for Thursday?"),
    ("interested", "en", "We're interested. What does your availability look like next week?"),
    ("interested", "de", "Klingt interessant, rufen Sie mich gerne am Donnerstag an."),
    ("interested", "de", "Wir hätten durchaus Interesse. Können wir nächste Woche kurz telefonieren?"),
    ("interested", "fr", "Ça m'intéresse, pouvez-vous m'envoyer une présentation ?"),
    ("interested", "fr", "Avec plaisir, je suis disponible jeudi."),
    ("interested", "es", "Me interesa, hablemos el martes."),
    ("interested", "es", "Con gusto, envíeme la propuesta."),
    ("not_now", "en", "Not right now. Try me in March."),
    ("not_now", "en", "Too busy at the moment, maybe later."),
    ("not_now", "de", "Im Moment leider nicht, melden Sie sich im neuen Jahr noch einmal."),
    ("not_now", "fr", "Pas pour le moment, recontactez-moi le mois prochain."),
    ("not_now", "es", "Ahora no, escríbame el mes que viene."),
    ("referral", "en", "I'm not the right person. Please contact Jane Doe, jane.doe@acme.example."),
    ("referral", "de", "Wenden Sie sich bitte an Frau Petra Schmidt, Tel. 089 1234567."),
    ("referral", "fr", "Contactez plutôt Marie Dupont : marie.dupont@dupont.example"),
    ("referral", "es", "Hable con Lucía Pérez, lucia.perez@ejemplo.example."),
    ("wrong_person", "en", "I'm not the right person for this, sorry."),
    ("wrong_person", "en", "I no longer work at Globex."),
    ("wrong_person", "de", "Da bin ich nicht zuständig."),
    ("wrong_person", "fr", "Je ne travaille plus chez Dupont."),
    ("wrong_person", "es", "Ya no trabajo en esa empresa."),
    ("not_interested", "en", "Not interested, thanks."),
    ("not_interested", "en", "We already have a solution and are happy with it."),
    ("not_interested", "de", "Kein Interesse, danke."),
    ("not_interested", "fr", "Non merci, cela ne nous intéresse pas."),
    ("not_interested", "es", "No nos interesa, gracias."),
    ("unsubscribe_request", "en", "Please remove me from your mailing list."),
    ("unsubscribe_request", "en", "Not interested. Stop emailing me."),
    ("unsubscribe_request", "de", "Bitte abmelden, keine weiteren E-Mails."),
    ("unsubscribe_request", "fr", "Merci de me désinscrire."),
    ("unsubscribe_request", "es", "Por favor, denme de baja."),
    ("out_of_office", "en", "I am out of the office with no access to email."),
    ("out_of_office", "de", "Ich bin im Urlaub und nicht im Büro."),
    ("out_of_office", "fr", "Je suis absente, en congés."),
    ("out_of_office", "es", "Estoy fuera de la oficina, de vacaciones."),
    ("unclear", "en", "Who is this?"),
    ("unclear", "de", "Worum geht es?"),
    ("unclear", "fr", "C'est pour quoi ?"),
    ("unclear", "es", "¿Quién es usted?"),
]


@pytest.mark.parametrize(
    ("intent", "language", "text"), CASES, ids=[f"{i}-{lang}-{n}" for n, (i, lang, _t) in enumerate(CASES)]
)
def test_each_intent_is_read_in_each_language(intent: str, language: str, text: str) -> None:
    reading = read(text)
    assert reading.intent == intent, reading
    assert reading.evidence, "the words that decided are kept"
    assert 0.0 <= reading.confidence <= 1.0


def test_every_intent_has_short_cases_in_the_four_languages() -> None:
    languages = {(intent, language) for intent, language, _text in CASES}
    for intent in INTENTS:
        if intent in ("bounce",):  # read from headers: see the corpus
            continue
        assert {lang for i, lang in languages if i == intent} == {"en", "de", "fr", "es"}, intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Not interested in the enterprise tier, but the starter plan sounds good.", "interested"),
        ("Happy to chat, though we already have a vendor.", "interested"),
        ("Kein Interesse an der Premium-Version, aber rufen Sie mich gerne an.", "interested"),
        ("Sounds good - but please remove me from the newsletter.", "unclear"),
        ("Not interested. We already have a vendor. No thanks. Sounds good for others, though.", "unclear"),
    ],
)
def test_words_of_interest_next_to_a_refusal_are_never_read_as_a_refusal(text: str, intent: str) -> None:
    assert read(text).intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Please remove me from your list. Maybe next year.", "unsubscribe_request"),
        ("Bitte abmelden. Ich bin auch nicht zuständig.", "unsubscribe_request"),
        ("Remove me from your list. Please contact Jane Doe instead: jane.doe@acme.example", "unclear"),
    ],
)
def test_a_request_to_be_removed_is_never_snoozed_or_passed_on(text: str, intent: str) -> None:
    assert read(text).intent == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I have a question about pricing: is it per seat?", "unclear"),
        ("Are you GDPR compliant?", "unclear"),
        ("We're set for Tuesday then. Let's talk!", "interested"),
        ("Sounds good, let's talk Tuesday. That's all for now.", "interested"),
        ("Absolutely not interested.", "not_interested"),
        ("Just curious, how did you get my email?", "unclear"),
        ("Wir haben bereits einen Termin im Kalender, passt mir gut.", "interested"),
        ("Nous avons déjà échangé avec votre collègue, appelez-moi jeudi.", "interested"),
    ],
)
def test_common_words_are_not_taken_for_a_refusal_or_an_unsubscribe(text: str, intent: str) -> None:
    assert read(text).intent == intent


def test_evidence_is_the_line_that_decided_and_is_bounded() -> None:
    reading = read("Hi Rita,\n\nNot interested, thanks.\n\nHave a good week")
    assert reading.evidence[0] == "Not interested, thanks."
    many = read("\n".join(f"Not interested in option {n}." for n in range(50)))
    assert len(many.evidence) <= MAX_EVIDENCE


def test_confidence_is_lower_when_the_only_sign_is_a_date() -> None:
    sure = read("Not right now, try me in March.")
    only_a_date = read("Q3.")
    assert only_a_date.intent == "not_now"
    assert only_a_date.confidence < sure.confidence


def test_an_empty_reply_is_unclear() -> None:
    assert read("").intent == "unclear"
    assert read("   \n  ").intent == "unclear"


# -- the dates a reply names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("try me in March", date(2027, 3, 1)),
        ("after the 15th", date(2026, 12, 15)),
        ("after the 3rd", date(2027, 1, 3)),
        ("next quarter", date(2027, 1, 1)),
        ("reach out in Q3", date(2027, 7, 1)),
        ("in two weeks", date(2026, 12, 21)),
        ("in 3 months", date(2027, 3, 7)),
        ("next month", date(2027, 1, 1)),
        ("next year", date(2027, 1, 1)),
        ("after the summer", date(2027, 9, 1)),
        ("early February", date(2027, 2, 1)),
        ("end of January", date(2027, 1, 25)),
        ("after January 20th", date(2027, 1, 20)),
        ("on 15 January 2027", date(2027, 1, 15)),
        ("busy until the end of January, try me in February", date(2027, 2, 1)),
        ("im März", date(2027, 3, 1)),
        ("Mitte Januar", date(2027, 1, 15)),
        ("nächstes Quartal", date(2027, 1, 1)),
        ("in zwei Wochen", date(2026, 12, 21)),
        ("ab dem 15.", date(2026, 12, 15)),
        ("am 12.01.", date(2027, 1, 12)),
        ("im neuen Jahr", date(2027, 1, 1)),
        ("début mars", date(2027, 3, 1)),
        ("le mois prochain", date(2027, 1, 1)),
        ("après le 15", date(2026, 12, 15)),
        ("dans trois mois", date(2027, 3, 7)),
        ("el mes que viene", date(2027, 1, 1)),
        ("a principios de febrero", date(2027, 2, 1)),
        ("después del 15", date(2026, 12, 15)),
        ("el próximo trimestre", date(2027, 1, 1)),
    ],
)
def test_a_named_date_is_resolved_against_the_message_date(text: str, expected: date) -> None:
    found = named_date(text, today=TODAY)
    assert found is not None, text
    assert found[0] == expected


@pytest.mark.parametrize(
    "text", ["nach Ostern", "after the holidays", "maybe later", "free after 3?", "at 10.30", "I may be interested"]
)
def test_vague_or_no_dates_stay_unknown(text: str) -> None:
    assert named_date(text, today=TODAY) is None


def test_a_not_now_reply_carries_its_date_and_the_words_naming_it() -> None:
    reading = read("Not right now. Try me in March.")
    assert (reading.intent, reading.date) == ("not_now", date(2027, 3, 1))
    assert "date: in March" in reading.evidence


def test_without_a_date_to_resolve_against_dates_stay_unknown() -> None:
    reading = read_text("Not right now. Try me next quarter.", at=None)
    assert (reading.intent, reading.date) == ("not_now", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I am out of the office until Monday, December 14.", date(2026, 12, 14)),
        ("Ich bin bis zum 18.12.2026 nicht im Büro.", date(2026, 12, 18)),
        ("Ich bin bis einschließlich 9. Dezember abwesend.", date(2026, 12, 10)),
        ("Vom 7.12. bis 11.12. nicht erreichbar. Ab dem 14.12. bin ich wieder im Büro.", date(2026, 12, 14)),
        ("Je suis absente jusqu'au 14 décembre inclus.", date(2026, 12, 15)),
        ("Absent du 7 au 18 décembre. De retour le 21 décembre.", date(2026, 12, 21)),
        ("Estoy fuera de la oficina hasta el 14 de diciembre.", date(2026, 12, 14)),
        ("Me encuentro ausente hasta el 11/01/2027.", date(2027, 1, 11)),
    ],
)
def test_an_out_of_office_return_date_is_read_in_four_languages(text: str, expected: date) -> None:
    assert back_date(text, now=AT) == expected


# -- the person a referral names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Please contact Jane Doe, our Head of Sales Ops: jane.doe@acme.example",
            Referral("Jane Doe", "jane.doe@acme.example", None),
        ),
        (
            "You should talk to Michael Chen (michael.chen@globex.example, +1 555 014 7788).",
            Referral("Michael Chen", "michael.chen@globex.example", "+1 555 014 7788"),
        ),
        (
            "Sarah Patel is the right person, sarah.patel@initech.example",
            Referral("Sarah Patel", "sarah.patel@initech.example"),
        ),
        ("Wenden Sie sich bitte an Herrn Klaus Vogel.", Referral("Klaus Vogel")),
        ("Voyez avec Isabelle Roux, elle est en charge.", Referral("Isabelle Roux")),
        (
            "La persona indicada es Sofía Navarro (sofia.navarro@empresa.example).",
            Referral("Sofía Navarro", "sofia.navarro@empresa.example"),
        ),
        ("Contact ops@acme.example, they handle vendor requests.", Referral(None, "ops@acme.example")),
        ("Write to jane.doe@acme.example.", Referral("Jane Doe", "jane.doe@acme.example")),
    ],
)
def test_a_referral_names_the_person_with_email_and_phone_when_given(text: str, expected: Referral) -> None:
    assert find_referral(text, sender="lead@acme.example") == expected


def test_the_senders_own_address_is_not_the_referral() -> None:
    found = find_referral(
        "Please contact my colleague Tom Baker, or me at lead@acme.example", sender="lead@acme.example"
    )
    assert found == Referral("Tom Baker")


def test_a_pointer_without_anyone_named_is_wrong_person() -> None:
    assert read("Please talk to our team, I don't handle this.").intent == "wrong_person"


def test_the_referral_of_a_reading_is_only_set_for_referrals() -> None:
    assert read("Jane Doe is the right person: jane.doe@acme.example").referral == Referral(
        "Jane Doe", "jane.doe@acme.example"
    )
    assert read("Not interested. jane.doe@acme.example").referral is None


# -- the quoted part never decides --------------------------------------------------------------------

THREAD = """\
From: Dana Whitfield <dana@acme.example>
To: Rita Alvarez <rita@cadence.example>
Subject: Re: A quick question
Date: Mon, 07 Dec 2026 10:15:00 +0100
Content-Type: text/plain; charset=utf-8

{body}
"""


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        (
            "Sounds good, call me Tuesday.\n\nOn Fri, Nov 20, 2026 at 4:12 PM Dana <dana@acme.example> wrote:\n"
            "> not interested, please unsubscribe me",
            "interested",
        ),
        (
            "On Fri, Nov 20, 2026 at 4:12 PM Rita <rita@cadence.example> wrote:\n> Reply 'not interested' to stop.\n"
            "> Unsubscribe: https://cadence.example/u/1\n\nSounds good, call me Tuesday.",
            "interested",
        ),
        (
            "Not interested.\n\n________________________________\nFrom: Rita Alvarez <rita@cadence.example>\n"
            "Sent: Thursday\n\nSounds good? Let's talk next week!",
            "not_interested",
        ),
        (
            "Klingt gut, rufen Sie mich an.\n\nAm Do., 3. Dez. 2026 um 09:00 Uhr schrieb Rita <rita@cadence.example>:\n"
            "> Falls kein Interesse besteht, abmelden.",
            "interested",
        ),
        (
            "Hola, me interesa.\n\nEl jue, 3 dic 2026 a las 9:00, Rita (<rita@cadence.example>) escribió:\n"
            "> Si no le interesa, darse de baja.",
            "interested",
        ),
        ("Sounds good, call me Tuesday.\n\n-- \nDana\nPlease do not reply: unsubscribe at any time", "interested"),
    ],
    ids=["top-posted", "bottom-posted", "outlook", "german", "spanish", "signature"],
)
def test_the_quoted_part_and_the_signature_never_decide(body: str, intent: str) -> None:
    assert read_message(parse(THREAD.format(body=body))).intent == intent


def test_own_words_of_a_bottom_posted_reply_are_kept() -> None:
    body = "On Fri, Rita wrote:\n> Would Tuesday work?\n> Unsubscribe here.\n\nYes, Tuesday works.\n\nBest,\nDana"
    assert reply_text(body) == "Yes, Tuesday works."


def test_an_html_only_reply_is_read_without_its_blockquote() -> None:
    raw = (
        "From: dana@acme.example\nSubject: Re: hi\nDate: Mon, 07 Dec 2026 10:15:00 +0100\n"
        'Content-Type: text/html; charset=utf-8\n\n<div dir="ltr">Let\'s talk next week.</div>'
        "<blockquote>Reply &quot;not interested&quot; to stop.</blockquote>"
    )
    assert read_message(parse(raw)).intent == "interested"


# -- headers decide first -----------------------------------------------------------------------------


def test_an_automatic_reply_is_out_of_office_with_its_return_date() -> None:
    raw = (
        "From: dana@acme.example\nSubject: Abwesenheitsnotiz: hi\nAuto-Submitted: auto-replied\n"
        "Date: Mon, 07 Dec 2026 10:15:00 +0100\n\nIch bin bis zum 18.12.2026 nicht im Büro. "
        "In dringenden Fällen wenden Sie sich an info@acme.example."
    )
    reading = read_message(parse(raw))
    assert (reading.intent, reading.date, reading.referral) == ("out_of_office", date(2026, 12, 18), None)
    assert reading.evidence[0].startswith("Auto-Submitted")


def test_an_automatic_reply_of_someone_who_left_is_a_referral() -> None:
    raw = (
        "From: dana@acme.example\nSubject: Automatic reply: hi\nAuto-Submitted: auto-replied\n\n"
        "I have left Acme. For sales matters please contact Grace Liu at grace.liu@acme.example."
    )
    reading = read_message(parse(raw))
    assert reading.intent == "referral"
    assert reading.referral == Referral("Grace Liu", "grace.liu@acme.example")


@pytest.mark.parametrize(
    "headers",
    ["List-Id: <news.acme.example>", "Precedence: bulk"],
)
def test_list_and_bulk_mail_is_unclear_whatever_it_says(headers: str) -> None:
    raw = f"From: news@acme.example\nSubject: Our newsletter\n{headers}\n\nNot interested? Unsubscribe here."
    reading = read_message(parse(raw))
    assert reading.intent == "unclear"
    assert reading.evidence[0] in ("mailing-list mail (List-Id)", "bulk mail")


def test_dates_resolve_against_the_time_given_when_the_message_has_no_date() -> None:
    raw = "From: dana@acme.example\nSubject: Re: hi\n\nNot now, try me next month."
    assert read_message(parse(raw), at=datetime(2027, 5, 20, tzinfo=UTC)).date == date(2027, 6, 1)
    assert read_message(parse(raw)).date is None


# -- hostile input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("not " * 50_000, id="negations"),
        pytest.param("please contact " * 20_000, id="cues"),
        pytest.param("Jane " * 50_000 + "@", id="names"),
        pytest.param("1 2 3 4 5 6 7 8 9 " * 20_000, id="digits"),
        pytest.param("in 12 " * 30_000, id="relative dates"),
        pytest.param("a@" * 50_000, id="at signs"),
        pytest.param("> quoted\n" * 50_000, id="quotes"),
    ],
)
def test_hostile_text_is_read_to_an_answer(text: str) -> None:
    # How fast is measured by benchmarks/classify.py (its "hostile" figures, against a plain scan of the
    # same text); here, that the reading ends with an intent and bounded evidence, whatever the text.
    for reading in (read(text), read_message(parse(f"From: a@acme.example\nSubject: Re: hi\n\n{text}"))):
        assert reading.intent in INTENTS
        assert sum(len(e) for e in reading.evidence) < 5_000


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_any_bytes_are_read_without_raising(raw: bytes) -> None:
    reading = read_message(email.message_from_bytes(raw, policy=email.policy.default), at=AT)
    assert reading.intent in INTENTS
    assert not any(e.startswith("unreadable") for e in reading.evidence)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_interest_with_anything_added_is_never_read_as_a_refusal(noise: str) -> None:
    for positive in ("Sounds good, call me Tuesday.", "Please contact Jane Doe, jane.doe@acme.example."):
        for text in (f"{positive} {noise}", f"{noise}\n{positive}"):
            reading = read(text)
            assert reading.intent not in ("not_interested", "unsubscribe_request"), (text, reading)


# -- the corpus ---------------------------------------------------------------------------------------


def corpus_reading(name: str) -> Reading:
    return read_message(email.message_from_bytes((CORPUS / name).read_bytes(), policy=email.policy.default))


def test_the_corpus_holds_150_labelled_replies_in_four_languages_on_example_domains() -> None:
    files = sorted(p.name for p in CORPUS.glob("*.eml"))
    assert files == sorted(LABELS)
    assert len(files) >= 150
    assert {label["intent"] for label in LABELS.values()} == set(INTENTS)
    assert {label["language"] for label in LABELS.values()} >= {"en", "de", "fr", "es"}
    styles = {label["style"] for label in LABELS.values()}
    assert {"gmail", "outlook", "bottom", "html", "forward", "ooo", "dsn"} <= styles
    for name in files:
        text = (CORPUS / name).read_text(encoding="utf-8")
        domains = set(re.findall(r"[\w.+-]+@([\w.-]+\w)", text))
        assert all(d.endswith(".example") for d in domains), (name, domains)


SAFETY = sorted(name for name, label in LABELS.items() if label["intent"] in ("interested", "referral"))


@pytest.mark.parametrize("name", SAFETY)
def test_no_interested_or_referral_reply_of_the_corpus_is_read_as_a_refusal(name: str) -> None:
    reading = corpus_reading(name)
    assert (LABELS[name]["intent"], reading.intent) not in UNSAFE_PAIRS, reading


def test_the_corpus_is_read_at_least_90_percent_right() -> None:
    right = sum(corpus_reading(name).intent == label["intent"] for name, label in LABELS.items())
    assert right / len(LABELS) >= 0.9


DATED = sorted(name for name, label in LABELS.items() if label["intent"] in ("not_now", "out_of_office"))


@pytest.mark.parametrize("name", DATED)
def test_the_dates_of_the_corpus_are_read_and_vague_ones_stay_unknown(name: str) -> None:
    reading = corpus_reading(name)
    expected = LABELS[name]["date"]
    assert (reading.intent, reading.date) == (
        LABELS[name]["intent"],
        date.fromisoformat(expected) if expected else None,
    )


REFERRALS = sorted(name for name, label in LABELS.items() if label["referral"])


@pytest.mark.parametrize("name", REFERRALS)
def test_the_referrals_of_the_corpus_name_the_person(name: str) -> None:
    reading = corpus_reading(name)
    assert reading.referral is not None
    assert reading.referral.as_dict() == LABELS[name]["referral"]
