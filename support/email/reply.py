"""What a customer wrote in this e-mail, without the history their client quoted below (or above)
it and without their signature: `latest_reply`.

The maintained parser (mail-parser-reply) finds the quote headers mail clients write in many
languages ("On … wrote:", "Am … schrieb …:", "Le … a écrit :", "El … escribió:", Outlook's
"From: … Sent: …" block, "-----Original Message-----") and the signatures ("-- ", "Sent from my
iPhone", "Get Outlook for …", "Best regards", "Mit freundlichen Grüßen", …). Around it, what the
corpus of real client messages (support/tests/emails/corpus) showed it misses: quote headers it
has no pattern for (forwards, Japanese and Russian Outlook, Portuguese and Russian Gmail, Spanish
Gmail's single space), replies written below the quote (Thunderbird's default), the client lines
of Yahoo, Windows Mail and localised iPhones, Outlook's underscore rule, and a sign-off that is
only a closing word and the sender's name."""

from __future__ import annotations

import re

from mailparser_reply.parser import EmailMessage

# Languages whose quote headers and signatures the parser looks for. Not Danish, Polish or
# Swedish: their patterns cut at any line starting "Tak", "Do:" or "/word".
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "cs", "ja", "ko", "zh")

_QUOTE = r"(?:> ?)*"
# Quote and forward headers the parser has no pattern for, each as its client writes it.
EXTRA_HEADERS = re.compile(
    "|".join(
        rf"(?:^{_QUOTE}{pattern})"
        for pattern in (
            # Gmail, Thunderbird, Apple Mail: a forwarded e-mail follows.
            r"-{5,}\s*(?:Forwarded message|Forwarded Message|Weitergeleitete Nachricht"
            r"|Message transféré|Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht)"
            r"\s*-{5,}\s*$",
            r"Begin forwarded message:\s*$",
            # Gmail in Spanish and Portuguese ("El … escribió:", "Em … escreveu:"); the
            # header may wrap once.
            r"El\s.+?\n?.*?\sescribió:\s*$",
            r"Em\s.+?\n?.*?\sescreveu:\s*$",
            # Outlook's header block in Japanese and Russian.
            r"差出人\s*[:：].*\n(?:.*\n)?" + _QUOTE + r"(?:送信日時|日付)\s*[:：]",  # noqa: RUF001
            r"От(?: кого)?\s*:.*\n(?:.*\n)?" + _QUOTE + r"(?:Отправлено|Дата)\s*:",
        )
    ),
    re.MULTILINE | re.IGNORECASE,
)
# Apple Mail in Russian ("3 дек. 2026 г., в 10:15, Shop <…> написал(а):"), found by its  # noqa: RUF003
# end: a pattern anchored at the line's start would try every offset of every line.
LINE_END_HEADERS = re.compile(r"\sнаписал(?:\(а\))?:[ \t]*$", re.MULTILINE)  # noqa: RUF001
# Lines a mail client adds under what its user typed.
CLIENT_LINES = re.compile(
    r"^(?:Sent from (?:my |Yahoo Mail|Mail for Windows|Outlook|AOL)\S*.*"
    r"|Get Outlook for \S+.*"
    r"|Von meinem \S+(?: \S+)? gesendet"
    r"|Gesendet (?:von|mit) .*"
    r"|Envoyé (?:de|depuis) mon .*"
    r"|Enviado desde (?:mi|Yahoo|Outlook) .*"
    r"|Enviado do meu .*"
    r"|Inviato da .*"
    r"|Verzonden (?:vanaf|met) .*"
    r"|Отправлено с .*)$",  # noqa: RUF001
    re.IGNORECASE,
)
# A closing word (with its comma, and perhaps a name after it): "Thanks,", "Cheers, Anna".
VALEDICTION = re.compile(
    r"^(?:thanks(?: a lot| again| in advance)?|thank you(?: in advance)?|many thanks|cheers"
    r"|best(?: wishes| regards)?|(?:kind|warm|warmest|best) regards|regards|all the best"
    r"|sincerely|yours(?: sincerely| truly)?|cordially|take care"
    r"|(?:viele|liebe|beste|freundliche|herzliche)?\s*gr(?:ü|ue)(?:ß|ss)e?|gruß|gruss|mfg|lg|vg"
    r"|mit freundlichen gr(?:ü|ue)(?:ß|ss)en|danke(?: schön)?|vielen dank"
    r"|(?:bien |très )?cordialement|bien à vous|merci(?: beaucoup| d'avance)?|salutations"
    r"|bonne (?:journée|soirée)|saludos(?: cordiales)?|un saludo|atentamente|gracias"
    r"|muchas gracias|cordialmente|(?:cordiali|distinti)? ?saluti|grazie(?: mille)?"
    r"|met vriendelijke groet(?:en)?|(?:hartelijke )?groet(?:en)?|bedankt"
    r"|obrigad[oa]|atenciosamente|cumprimentos|с уважением|спасибо)"  # noqa: RUF001
    r"[\s,.!]*(?:\s+\S+(?:\s+\S+)?)?$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^[_\-=*~]{2,}$")
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"), None) | {
    0xA0: " ",
    0x202F: " ",
}


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _parser(text: str) -> EmailMessage:
    return EmailMessage(text=text, languages=list(LANGUAGES), keep_hyphen_lists=True)


def _first_header(message: EmailMessage) -> int:
    """Where the first quote or forward header starts (the end of the text if none). Our own
    patterns only look above the parser's first header: what is below it is quoted anyway."""
    text = message.text
    found = message.HEADER_REGEX.search(text)
    end = found.start() if found else len(text)
    if extra := EXTRA_HEADERS.search(text, 0, end):
        end = extra.start()
    if line_end := LINE_END_HEADERS.search(text, 0, end):
        end = text.rfind("\n", 0, line_end.start()) + 1
    return end


def _unquoted(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))


def _below_the_quote(message: EmailMessage) -> str:
    """A reply written under the quoted history (Thunderbird's default) or between its lines:
    everything that is neither quoted nor a quote header."""
    text = message.HEADER_REGEX.sub("", message.text)
    text = LINE_END_HEADERS.sub("", EXTRA_HEADERS.sub("", text))
    return _unquoted(text)


def _starts_a_signature(line: str) -> bool:
    line = line.strip().lstrip("> ").strip()
    return bool(
        line in ("--", "-- ")
        or _RULE.match(line)
        or CLIENT_LINES.match(line)
        or VALEDICTION.match(line)
    )


def _without_signature(text: str) -> str:
    """The text without the signature the parser found, unless what it took for one starts
    with a sentence ("Thanks, but the parcel is still missing."): its closing words match
    the start of any line."""
    replies = _parser(text).read().replies
    if not replies:
        return ""
    reply = replies[0]
    first = next((line for line in (reply.signatures or "").split("\n") if line.strip()), "")
    if first and not _starts_a_signature(first):
        return reply.content
    return reply.body


def _is_name(line: str, names: set[str]) -> bool:
    return line.strip(" ,.!-").casefold() in names


def _sign_off_removed(lines: list[str], sender_name: str) -> list[str]:
    """Drops, from the end, the sender's name, then a closing word ("Thanks,", "Cheers,"), so
    long as something the customer wrote stays."""
    full = " ".join(sender_name.replace('"', "").split())
    names = {full.casefold(), *(part.casefold() for part in full.split()[:1])} - {""}
    if "," in full:  # "Schneider, Katrin": the given name comes second
        names.add(full.split(",", 1)[1].strip().split(" ")[0].casefold())

    def content(lines: list[str]) -> list[str]:
        return [line for line in lines if line.strip()]

    if len(content(lines)) > 1 and names and _is_name(content(lines)[-1], names):
        lines = lines[: max(i for i, line in enumerate(lines) if line.strip())]
    kept = content(lines)
    if len(kept) > 1 and VALEDICTION.match(kept[-1].strip()):
        lines = lines[: max(i for i, line in enumerate(lines) if line.strip())]
    return lines


def _trailing_removed(text: str, sender_name: str) -> str:
    lines = text.split("\n")
    while lines and (
        not lines[-1].strip() or _RULE.match(lines[-1].strip()) or CLIENT_LINES.match(lines[-1])
    ):
        lines.pop()
    return "\n".join(_sign_off_removed(lines, sender_name))


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def latest_reply(text: str, sender_name: str = "") -> str:
    """The text the sender wrote in this e-mail ("" if it holds none of its own)."""
    message = _parser(_clean(text))
    top = message.text[: _first_header(message)]
    if not _unquoted(top).strip():
        top = _below_the_quote(message)
    reply = _unquoted(_without_signature(top))
    return _tidy(_trailing_removed(_tidy(reply), sender_name))
