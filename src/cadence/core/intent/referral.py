"""The person a reply points to: a name, an email address, a phone number, each when the reply gives it."""

from __future__ import annotations

import re

from cadence.core.inbound import normalize_address
from cadence.core.intent.kinds import Referral

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,200})\.[A-Za-z]{2,24}")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d(?:[ ./()-]{0,2}\d){6,16}(?!\w)")
_CAP = r"[A-ZÄÖÜÉÈÊÁÍÓÚÑÇ][a-zäöüßéèêëáíóúñçàâîïôûA-Z'’-]{1,30}"
_NAME = rf"(?P<name>{_CAP}(?:[ \t]+(?:(?:van|von|de|del|la|le|da|di|der)[ \t]+)?{_CAP}){{0,2}})"
_HONORIFIC = r"(?i:(?:herrn?|frau|mr\.?|mrs\.?|ms\.?|dr\.?|m\.|mme|monsieur|madame|señora?|sra\.?|sr\.?|don|doña)\s+)?"
_ROLE = (
    r"(?i:(?:my|our|meine[nm]?|unsere[nm]?|mon|ma|notre|mi|nuestr[oa]) (?:[\w-]{1,30} ){0,3}?(?:colleague|coworker"
    r"|co-worker"
    r"|head of [\w ]{1,30}?|director|manager|cto|ceo|cfo|cmo|cio|vp [\w ]{1,30}?|boss|kollegin|kollegen|kollege|chef"
    r"|chefin|leiter(?:in)?|geschäftsführer(?:in)?|collègue|responsable|directeur|directrice|compañer[oa]|jef[ea]"
    r"|director[a]?|gerente)[,:]?\s+)?"
)
_CUES = re.compile(
    r"\b(?i:the person you want is|would go through (?:our |my )?(?:[\w-]{1,30} ){0,3}?|c'est|contact|reach out to"
    r"|talk to|speak (?:to|with)|get in touch with|connect with|email|e-mail|write to|try"
    r"|cc'?d|copied|looped in|looping in|adding|added|introducing|forwarded (?:this |your email |it )?to"
    r"|forwarding (?:this |your email |it )?to|wenden sie sich (?:bitte |gerne )?an|ansprechpartner(?:in)? (?:ist|wäre)"
    r"|zuständig (?:ist|wäre)|kontaktieren sie(?: bitte| gerne)?|weitergeleitet an|contactez(?: plutôt)?"
    r"|adressez-vous à"
    r"|voyez avec|écrivez à|transmets à|transmis (?:votre (?:message|mail) )?à|contacte (?:a|con)|hable con|habla con"
    r"|escriba a|póngase en contacto con|ponte en contacto con|reenviado (?:su |tu )?(?:correo |mensaje )?a)"
    rf"\s+{_HONORIFIC}{_ROLE}{_HONORIFIC}{_NAME}"
)
_ROLE_NAME = re.compile(
    r"(?i:\b(?:colleague|coworker|kollegin|kollege|collègue|compañer[oa]|manager|director|directrice|directeur"
    r"|responsable|leiter|leiterin|vertriebsleiter(?:in)?|einkauf|cto|ceo|cfo|coo|cro))"
    rf"[,:]?\s+{_HONORIFIC}{_NAME}"
)
# "our Head of Revenue Operations, Chloe Adams": a title of several words ends at its comma
_TITLE_NAME = re.compile(
    r"(?i:\b(?:vp|head|director|leiter(?:in)?|responsable) (?:of |de |des |du )?[\w ]{1,40}?)"
    rf"[,:]\s+{_HONORIFIC}{_NAME}"
)
_NAME_FIRST = re.compile(
    rf"{_HONORIFIC}{_NAME}(?:\s*\([^)]{{0,80}}\))?\s+(?i:is (?:the (?:right|best|better) (?:person|contact)|responsible"
    r"|in charge|who handles|our|your (?:best|man|woman|contact))|handles|ist (?:dafür )?(?:zuständig|die richtige"
    r"|der richtige|ihr|ihre)|qui (?:gère|s'occupe|suit)|est (?:la bonne|le bon|responsable|en charge|notre)"
    r"|s'occupe|(?:dafür )?(?:zuständig|verantwortlich)|es (?:la persona|el responsable"
    r"|la responsable|quien)|se encarga|lleva)"
)
_NAME_BEFORE_ADDRESS = re.compile(rf"{_NAME}\s*(?:[(<\[]\s*|[,:-]\s*|\s+(?:at|unter|à|en)\s+)$")
_NOT_NAMES = {
    "i", "he", "she", "we", "they", "you", "it", "the", "this", "that", "hi", "hello", "hallo", "bonjour", "hola",
    "thanks", "thank", "please", "bitte", "danke", "merci", "gracias", "dear", "sehr", "liebe", "lieber", "our",
    "my", "him", "her", "them", "me", "us", "sales", "team", "monday", "tuesday", "wednesday", "thursday", "friday",
    "email", "mail", "sie", "ihn", "ihr", "lui", "elle", "él", "ella", "ich", "je", "yo", "nous", "wir", "the right",
    "also", "best", "regards", "c'est", "kollege", "kollegin", "colleague", "collègue",
    "compañero", "compañera", "mein", "meine", "seine", "ihre", "adresse", "ihnen", "uns",
    "vous", "usted", "and", "und", "et", "y", "or", "head",
}  # fmt: skip


_HONORIFICS = {
    "herr", "herrn", "frau", "mr", "mrs", "ms", "dr", "m", "mme", "monsieur", "madame", "señor", "señora", "sr",
    "sra", "don", "doña",
}  # fmt: skip


def _clean_name(raw: str | None) -> str | None:
    if not raw:
        return None
    words = raw.replace("’", "'").split()
    while words and words[0].lower().rstrip(".") in _HONORIFICS:
        words.pop(0)
    while words and words[-1].lower() in _NOT_NAMES:
        words.pop()
    while words and words[0].lower() in _NOT_NAMES:
        words.pop(0)
    name = " ".join(words).strip(" ,.'-")
    if not name or name.lower() in _NOT_NAMES or len(name) < 2:
        return None
    return name


def _name_from_address(address: str) -> str | None:
    local = address.partition("@")[0]
    parts = [p for p in re.split(r"[._-]", local) if p.isalpha() and len(p) > 1]
    if len(parts) >= 2:
        return " ".join(p.capitalize() for p in parts[:3])
    return None


def find_referral(text: str, *, sender: str | None) -> Referral | None:
    """The person ``text`` points to (not ``sender``), or None when it names nobody it could be told apart by.

    The email address is the first one in the text that is not the sender's; the phone number the
    first run of 7 to 17 digits (spaces, dots, dashes, slashes and brackets allowed between them); the
    name the capitalised words after a cue ("please contact Jane Doe", "wenden Sie sich an Frau
    Schmidt", "contactez Marie Dupont", "hable con Lucía Pérez"), before "is the right person", or right
    before the address. A name without address or phone still counts.
    """
    text = text[:5000]
    own = (sender or "").lower()
    email: str | None = None
    email_at = -1
    for match in _EMAIL.finditer(text):
        address = normalize_address(match.group(0).rstrip("."))
        if address is not None and address != own:
            email, email_at = address, match.start()
            break
    phone: str | None = None
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 7 <= len(digits) <= 17 and not re.fullmatch(r"(19|20)\d\d[01]\d[0-3]\d", digits):
            phone = re.sub(r"\s+", " ", match.group(0)).strip()
            break
    name: str | None = None
    for pattern in (_CUES, _NAME_FIRST, _TITLE_NAME, _ROLE_NAME):
        for match in pattern.finditer(text):
            name = _clean_name(match.group("name"))
            if name is not None:
                break
        if name is not None:
            break
    if name is None and email_at >= 0:
        before = _NAME_BEFORE_ADDRESS.search(text[max(0, email_at - 80) : email_at])
        name = _clean_name(before.group("name")) if before else None
    if name is None and email is not None:
        name = _name_from_address(email)
    if name is None and email is None and phone is None:
        return None
    return Referral(name=name, email=email, phone=phone)
