"""The cue detectors: short, explainable surface signals of a message's tone, each returning the
text it matched so that the console can show why (Tone.cues) and the routing can veto an
acknowledgement (agents/message_signals.py). The tone model also reads them as features
(agents/triage/tone_model.py), so a cue that decides a head is one a person can see.

One place for them: sarcasm and irony, praise that a person would not thank (of a competitor or
of someone else, praise attached to a problem, thanks closing a complaint), urgency phrases,
repeated failures, threats to leave, contrast words and questions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agents.text import sentences as split_sentences

# Emoji that, in a customer's message, mean the opposite of the words around them (the
# dismissive faces), or a shrug.
_DISMISSIVE_EMOJI = {
    "🙄": "eye-roll emoji",
    "😒": "unamused emoji",
    "🙃": "upside-down face emoji",
    "😑": "expressionless emoji",
}
IRONY_EMOJI = {**_DISMISSIVE_EMOJI, "🤔": "thinking-face emoji", "🤦": "facepalm emoji"}
ANGRY_EMOJI = "😡😠🤬😤💔😭😩😫😞😔👎😢"
# Applause: happy on its own ("arrived a day early 👏"), a slow clap after praise of the service
# ("great customer service 👏"): counted as happy, and as sarcasm in that phrase (_SARCASM).
CLAP = "👏"
HAPPY_EMOJI = "😍🥰😊😁😀😃😄🙂❤💕💙💖👍👌🙌🎉🙏😘✨💯" + CLAP
# What turns praise of the service into sarcasm when it follows it.
_PRAISE_UNDONE = "|".join([*_DISMISSIVE_EMOJI, CLAP])

# Phrases two detectors share, each written once.
THANKS_FOR_NOTHING = r"thanks? (?:a lot )?for nothing"
SHOP_ELSEWHERE = r"shop(?:ping)? (?:around|elsewhere)"
SWITCHING = r"(?:switch|switched|switching|moving|leave|leaving)"  # … to another company
# Fraud and legal words: a risk that escalates (agents/message_signals.py: RISK_PATTERNS) and,
# in a customer's message, a reason to act fast (_URGENT).
FRAUD = (
    r"\b(fraud(ulent)?|scam(med)?|unauthori[sz]ed (charge|payment|transaction|purchase)s?|"
    r"stolen (card|identity|account)|identity theft|hacked|someone (used|accessed) my)\b"
)
LEGAL = (
    r"\b(lawyer|attorney|solicitor|lawsuit|sue|suing|legal action|court|small claims|"
    r"class action|gdpr request|data protection authority|ombudsman)\b"
)

_SARCASM = re.compile(
    rf"{THANKS_FOR_NOTHING}|"
    r"\bgreat (?:job|work|service|stuff)\b[^.?!]{0,40}?(?:\.{2,}|…|,)\s*not\b|"
    r"(?:\.{2,}|…|\s)not!?\s*$|#not\b|#sarcasm\b|(?:^|\s)/s\b|\byeah,? right\b|"
    r"\b(?:gotta|got to|just|really) love (?:it when|how|waiting|being|the way|when)\b|"
    r"\blove (?:waiting|being (?:on hold|ignored|lied to|charged)|paying)\b|"
    r"\bloving (?:the|this) (?:wait|delay|silence)\b|"
    r"\b(?:oh|just|so|wow),? (?:great|brilliant|wonderful|fantastic|perfect|lovely)\b|"
    r"^[^\w\n]*(?:@\w+\s+)*(?:great|brilliant|wonderful|fantastic|perfect|lovely|nice),\s+(?:another|"
    r"again)\b|"
    r"\b(?:really|totally|so) (?:making|made) my day\b|\bwhat a (?:joke|surprise|shock)\b|"
    r"\bnice (?:one|going|job|work),? @?\w*[^.?!]{0,20}(?:\.{2,}|…)|"
    r"\b(?:great|amazing|stellar|excellent|fantastic|wonderful|top[- ]notch) "
    r"(?:customer )?(?:service|support|job)\b[^.?!]{0,6}(?:\.{2,}|…|!{2,})?\s*"
    rf"(?:{_PRAISE_UNDONE})|"
    r"[\"“'\u2018](?:help|helpful|service|support|customer service|great|fast|quick|express|"
    r"handle[sd]?|fixed|priority|premium|guaranteed|soon|24 ?hours?)[\"”'\u2019]",
    re.IGNORECASE | re.MULTILINE,
)
# A brand, person or company other than the one addressed does better, or the customer leaves
# for it: "X is more helpful than you", "at least @X answers", "switching to X".
_ELSEWHERE = re.compile(
    r"\b(?:better|faster|quicker|more helpful|more reliable|cheaper|nicer|easier) than "
    r"(?:you|your|u|ur|y'?all)\b|\bunlike (?:you|u|your)\b|\bat least @?\w+ (?:\w+ )?"
    r"(?:answer|respond|reply|replies|care|cares|does|did|knows|know|has|have|got|can)\b|"
    r"(?<=[a-z.,!] )@\w+ (?:would|will|does|did|always|actually) (?:\w+ )?(?:have|make|do|"
    rf"help|get|answer|respond|care|fix|deliver)|\b(?:{SWITCHING}|move|left) (?:back )?(?:over )?"
    r"to @?(?!my\b|the\b|a\b|an\b|your\b)\w+|"
    r"\b(?:going|go|went) (?:back )?(?:over )?to @\w+|"
    r"\b(?:take|taking) (?:notes|lessons?|a leaf)\b|\blearn (?:a thing or two )?from @?\w+|"
    rf"\b(?:thank god|thankfully|luckily) (?:for )?@\w+|\b{SHOP_ELSEWHERE}\b|"
    r"\b(?:other|another) (?:carrier|provider|company|airline|network|bank|store|service)\b",
    re.IGNORECASE,
)
_PRAISE = re.compile(
    r"\b(?:love|loved|loving|great|amazing|awesome|excellent|brilliant|fantastic|best|"
    r"wonderful|perfect|happy|glad|appreciate|appreciated|helpful|lovely|impressed|nice|"
    r"thanks?|thank you|thx|ty|cheers)\b",
    re.IGNORECASE,
)
CONTRAST_WORDS = re.compile(
    r"\b(?:but|however|though|although|except|yet|unfortunately|sadly|shame|only problem|"
    r"only issue|still)\b",
    re.IGNORECASE,
)
_PROBLEM = re.compile(
    r"\b(?:crash\w*|broken|broke|bug\w*|error\w*|fail\w*|not working|doesn'?t work|don'?t work|"
    r"isn'?t working|won'?t|can'?t|cannot|couldn'?t|didn'?t|hasn'?t|haven'?t|never|still|"
    r"issues?|problems?|wrong|missing|lost|late|delay\w*|cancel\w*|charged|overcharged|"
    r"refund\w*|waiting|waited|stuck|slow|freez\w*|down|outage|no (?:one|response|reply|"
    r"signal|service|internet|wifi)|nobody|useless|worst|terrible|awful|disappoint\w*|"
    r"ridiculous|unacceptable|rude|again)\b",
    re.IGNORECASE,
)
_CLOSING_THANKS = re.compile(
    r"(?:\b(?:thanks?|thank you|thx|ty|cheers|ta)\b(?: (?:anyway|again|a lot|so much|"
    r"guys|for (?:the help|listening|your help)|in advance))?[\s.!,:;)(@\w]*$)|"
    r"\bthanks? anyway\b|\bthanks? in advance\b",
    re.IGNORECASE,
)
# The problem is over: thanks after it are thanks for the fix.
_RESOLVED = re.compile(
    r"(?<!not )(?<!n't )(?<!never )\b(?:solved|sorted|fixed|resolved|working again|works now|"
    r"working now|all good|got it|figured it out|(?:took|taken|take) care of it|all set)\b",
    re.IGNORECASE,
)
_URGENT = re.compile(
    r"\b(?:urgent|urgently|asap|immediately|right now|right away|emergency|today|tonight|"
    r"unauthori[sz]ed|stolen|scam\w*|phishing|charged twice|"
    r"double charged|charged \w+ times|legal|police|consumer forum|"
    r"deadline|as soon as possible|locked out|can'?t (?:log ?in|access|get in)|down|outage|"
    r"no (?:service|signal|internet|power|wifi)|miss(?:ed|ing)? (?:my |the |a )?(?:flight|"
    rf"connection|train)|stranded)\b|\b(?:help|now)!+|{FRAUD}|{LEGAL}",
    re.IGNORECASE,
)
_REPEATED = re.compile(
    r"\b(?:again|still|yet again|once again|every time|everytime|keeps? \w+ing|for (?:days|"
    r"weeks|months|hours)|(?:\d+|two|three|four|five|several|multiple|many|countless) "
    r"(?:times|calls|emails|weeks|days|months)|(?:2nd|3rd|\dth|second|third|fourth|fifth) "
    r"(?:time|call|email|attempt)|no (?:response|reply|answer|update)|been waiting|"
    r"still waiting|over and over)\b",
    re.IGNORECASE,
)
_LEAVING = re.compile(
    r"\b(?:cancel(?:l?ing|l?ed)? my (?:account|service|subscription|contract|plan|membership)|"
    rf"{SWITCHING} (?:to|carriers?|providers?|banks?)|"
    r"never (?:again|flying|shopping|using|buying|ordering)|last time i\b|done with (?:you|"
    rf"u|your)|get rid of (?:you|them|u)|want out|{SHOP_ELSEWHERE}|"
    r"lost a customer|take my business)\b",
    re.IGNORECASE,
)
# A sentence asking or requesting something. Without a question mark a question word must be
# followed by what makes it one ("when will", "how do I"): "When I called, your staff were lovely"
# and "What a great service" ask nothing. Read per sentence (agents/message_signals.py:
# question_of names a mixed message's part to answer); `question_cues` shows its words.
_START = r"^(?:\W*@\w+)*\W*"  # a sentence's start, after any @mentions
_QUESTION_WORDS = re.compile(
    rf"{_START}(how|what|when|where|why|which|who)\b \W*(do|does|did|is|are|was|were|can|"
    r"could|will|would|should|to|much|many|long|time)\b|"
    rf"{_START}(can|could|would|will|do|does|did|is|are|am|may|should|shall)\b \W*(i|you|we|"
    r"someone|anyone|it|there|my|this|the|your)\b|"
    rf"{_START}any (news|update|idea|way)\b|\b(can|could|would) (you|someone)\b|"
    r"\b(let me know|tell me|help me|i need to know|is there (a|any) way)\b",
    re.IGNORECASE,
)
QUESTION = re.compile(rf"\?|{_QUESTION_WORDS.pattern}", re.IGNORECASE)
_SHOUTED = re.compile(r"\b[A-Z]{3,}\b")
MAX_CUE_CHARS = 40
QUOTES = "\"“”'\u2018\u2019"


@dataclass(frozen=True)
class Detector:
    """One family of cues: `find` returns the readable cues it sees in a text."""

    name: str
    find: Callable[[str], list[str]]


def quoted(match: str) -> str:
    """A matched phrase as a cue: quoted, whitespace-folded, short."""
    text = " ".join(match.split())
    text = re.sub(r"^(?:@\w+\s+)+", "", text).strip(QUOTES)
    if len(text) > MAX_CUE_CHARS:
        text = text[: MAX_CUE_CHARS - 1].rstrip() + "…"
    return f"“{text}”"


def _phrases(pattern: re.Pattern[str]) -> Callable[[str], list[str]]:
    def find(text: str) -> list[str]:
        return _unique(quoted(m.group(0)) for m in pattern.finditer(text) if m.group(0).strip())

    return find


def _unique(cues: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for cue in cues:
        if cue not in seen:
            seen.append(cue)
    return seen


def irony_emoji(text: str) -> list[str]:
    return [f"{name} {emoji}" for emoji, name in IRONY_EMOJI.items() if emoji in text]


def sarcasm_phrases(text: str) -> list[str]:
    return _phrases(_SARCASM)(text)


def sarcasm_cues(text: str) -> list[str]:
    """Sarcasm or irony: an eye-roll emoji, "thanks for nothing", "great job... not", "yeah
    right", "/s", "love waiting", scare quotes around a promise. Empty when there is none."""
    return irony_emoji(text) + sarcasm_phrases(text)


def elsewhere_praise_cues(text: str) -> list[str]:
    """Praise of a competitor or of someone else, or leaving for them."""
    return _phrases(_ELSEWHERE)(text)


def praise_with_problem_cues(text: str) -> list[str]:
    """Praise and a problem joined by a contrast word: "love the app but it crashes"."""
    praise = _PRAISE.search(text)
    if not praise:
        return []
    contrast = CONTRAST_WORDS.search(text, praise.end())
    if not contrast:
        return []
    problem = _PROBLEM.search(text, contrast.start())
    if not problem:
        return []
    return [f"{quoted(praise.group(0))} … {quoted(contrast.group(0))} {quoted(problem.group(0))}"]


def closing_thanks_cues(text: str) -> list[str]:
    """Thanks that close a complaint or a request ("…still not fixed. Thanks anyway"): a
    courtesy, not praise."""
    closing = _CLOSING_THANKS.search(text)
    if not closing:
        return []
    phrase = closing.group(0).lower()
    if re.match(THANKS_FOR_NOTHING, phrase):
        return []  # sarcasm (_SARCASM), not a courtesy as well
    if any(word in phrase for word in ("anyway", "nothing", "in advance")):
        return [f"thanks closing a request {quoted(closing.group(0).strip())}"]
    problem = _PROBLEM.search(text[: closing.start()])
    if problem and not _RESOLVED.search(text):
        return [f"thanks after a problem {quoted(problem.group(0))}"]
    return []


def praise_veto_cues(text: str) -> list[str]:
    """Reasons this is not praise a person would thank (non-empty = do not acknowledge it):
    sarcasm or irony, praise of someone else, praise attached to a problem, thanks closing a
    complaint or a request."""
    return (
        sarcasm_cues(text)
        + elsewhere_praise_cues(text)
        + praise_with_problem_cues(text)
        + closing_thanks_cues(text)
    )


def urgency_cues(text: str) -> list[str]:
    return _phrases(_URGENT)(text)


def repeated_failure_cues(text: str) -> list[str]:
    return _phrases(_REPEATED)(text)


def leaving_cues(text: str) -> list[str]:
    """A threat to leave: "cancelling my account", "switching to", "never again"."""
    return _phrases(_LEAVING)(text)


def contrast_cues(text: str) -> list[str]:
    return _phrases(CONTRAST_WORDS)(text)


def question_cues(text: str) -> list[str]:
    cues = ["question mark"] if "?" in text else []
    for sentence in split_sentences(text):
        asked = _QUESTION_WORDS.search(sentence)
        if asked:
            cues.append(f"question {quoted(asked.group(0))}")
    return _unique(cues)


def shouting_cues(text: str) -> list[str]:
    return _unique(f"shouting {quoted(word)}" for word in _SHOUTED.findall(text))


def exclamation_cues(text: str) -> list[str]:
    return ["exclamation marks"] if "!!" in text else []


def angry_emoji_cues(text: str) -> list[str]:
    return _unique(f"emoji {char}" for char in text if char in ANGRY_EMOJI)


def happy_emoji_cues(text: str) -> list[str]:
    return _unique(f"emoji {char}" for char in text if char in HAPPY_EMOJI)


# Every detector family, in a fixed order.
DETECTORS: tuple[Detector, ...] = (
    Detector("irony_emoji", irony_emoji),
    Detector("sarcasm", sarcasm_phrases),
    Detector("elsewhere_praise", elsewhere_praise_cues),
    Detector("praise_with_problem", praise_with_problem_cues),
    Detector("closing_thanks", closing_thanks_cues),
    Detector("urgency", urgency_cues),
    Detector("repeated_failure", repeated_failure_cues),
    Detector("leaving", leaving_cues),
    Detector("contrast", contrast_cues),
    Detector("question", question_cues),
    Detector("shouting", shouting_cues),
    Detector("exclamation", exclamation_cues),
    Detector("angry_emoji", angry_emoji_cues),
    Detector("happy_emoji", happy_emoji_cues),
)


# The families the tone model reads as features, in the artifact's column order (append, never
# reorder); questions, shouting and exclamation marks it counts itself.
FEATURE_DETECTORS = tuple(
    d for d in DETECTORS if d.name not in {"question", "shouting", "exclamation"}
)


def detect(text: str) -> dict[str, list[str]]:
    """Every detector's cues for a text, by detector name (empty lists included)."""
    return {detector.name: detector.find(text) for detector in DETECTORS}
