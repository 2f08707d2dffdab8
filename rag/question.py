"""Reading a question: what kind of answer it wants, which words an answer must touch, which event dates it names.

Hand-written rules over the question's wording. spaCy was considered and does not fit: its English models
are not registry packages (only unofficial re-uploads are), and tagging every retrieved sentence would be
model work on the answer path, which does no model work beyond the question's embedding.

The plan is frozen and typed; the answerers use it to find answer-bearing sentences (`spans`, `key_terms`,
`event_dates`) and to refuse what cannot be reported yet (`future_event`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from rag.dates import mentioned_days

AnswerType = Literal[
    "money", "number", "percentage", "date", "person", "organisation", "place", "name", "yes_no", "free"
]
TYPED: frozenset[str] = frozenset({"money", "number", "percentage", "date", "person", "organisation", "place", "name"})

_MONTHS = (
    "january february march april may june july august september october november december".split(),
    "jan feb mar apr may jun jul aug sep oct nov dec".split(),
)
_MONTH_NUMBER = {name: i + 1 for names in _MONTHS for i, name in enumerate(names)} | {"sept": 9}
_MONTH_RE = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
)
_WEEKDAY_RE = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"

# ---------- the expected answer type, from the question word and its head ----------
_LEAD = re.compile(r"^\s*(?:and|so|but|then|also|ok(?:ay)?|well)\b[\s,]*", re.I)
_YES_NO = re.compile(
    r"^(?:is it true that\s+)?(?:did|does|do|is|are|was|were|has|have|had|can|could|will|would|should|"
    r"shall|may|might)\b(?!\s*$)",
    re.I,
)
_MONEY_NOUN = (
    r"money|cash|funding|finance|financing|investment|investments|revenue|revenues|sales|profit|profits|"
    r"earnings|income|price|cost|costs|valuation|value|salary|budget|fine|penalty|debt|capital|loss|losses|"
    r"spending|deal|aid|bid|payment|fee|fees|amount|sum|figure"
)
_MONEY_VERB = (
    r"invest(?:ed|s)?|rais(?:e|ed|es)|pa(?:y|id|ys)|spen[dt]|spends|cost|costs|earn(?:ed|s)?|put|lend|lent|"
    r"borrow(?:ed)?|sell|sold|buy|bought|charg(?:e|ed)|worth|valued?|commit(?:ted)?|pledg(?:e|ed)|add(?:ed)?"
)
_RULES: tuple[tuple[re.Pattern[str], AnswerType], ...] = (
    (
        re.compile(
            r"\b(?:what|which) (?:percentage|percent|proportion|fraction)\b|\bhow many percent\b|"
            r"\bwhat (?:stake|share)\b|\bby what percent(?:age)?\b|\bwhat (?:is|was|were) (?:the|its|their) "
            r"(?:stake|share|percentage|rate|turnout)\b",
            re.I,
        ),
        "percentage",
    ),
    (
        re.compile(
            r"\b(?:when|what (?:date|day|time|month|year)|which (?:date|day|month|year)|"
            r"in (?:what|which) (?:year|month)|on (?:what|which) (?:date|day)|since when|how long ago)\b|"
            r"\b(?:release|premiere|launch|opening) date\b|"
            r"\bwhat(?: is|'s| was| are| were) the (?:date|day) (?:of|for)\b",
            re.I,
        ),
        "date",
    ),
    (
        re.compile(
            rf"\bhow much\b(?=.*\b(?:{_MONEY_VERB})\b)|\bhow much (?:money|cash|funding|finance)\b|"
            rf"\bhow much\b(?:\s+\w+){{0,3}}\s+(?:{_MONEY_NOUN})\b|"
            rf"\b(?:what|which) (?:was |is |were |are )?(?:the |its |their |\w+'s )?(?:\w+ )?(?:{_MONEY_NOUN})\b"
            rf"(?!\s+(?:of|in|on) (?:the )?(?:vote|seats?))|\bhow much did\b",
            re.I,
        ),
        "money",
    ),
    (
        re.compile(
            r"\bhow (?:many|much|long|old|far|fast|big|large|tall|high|deep|often)\b|"
            r"\bwhat (?:number|total|count)\b|\bby how much\b",
            re.I,
        ),
        "number",
    ),
    (
        re.compile(
            r"\bwhere\b|\b(?:which|what|in which|in what) (?:country|countries|city|cities|state|place|nation|"
            r"region|town|venue|stadium|location|site|continent|basin|crater|arena)\b|\blocation\b",
            re.I,
        ),
        "place",
    ),
    (
        re.compile(
            r"\b(?:which|what|whose) (?:other )?(?:\w+ )?(?:company|companies|firm|firms|organi[sz]ation|startup|"
            r"bank|group|agency|party|team|club|outlet|publication|network|brand|maker|manufacturer|lab|"
            r"university|fund|investor|investors|backer|rival|partner|chipmaker|carmaker|business|"
            r"conglomerate|publisher|studio|developer|provider)\b",
            re.I,
        ),
        "organisation",
    ),
    (
        re.compile(
            r"\b(?:who|whom|whose)\b|\b(?:which|what) (?:person|people|individual|player|leader|president|"
            r"minister|ceo|executive|founder|director|candidate|winner|author|astronaut|scientist|actor|actress|"
            r"singer|artist|coach|manager|driver|rider|athlete|writer|novelist|composer|chef|judge)\b",
            re.I,
        ),
        "person",
    ),
    (  # a work, product or thing called by its own name
        re.compile(
            r"\bwhat(?: is|'s| was| are| were) the names? of\b|\b(?:which|what) (?:movie|film|show|series|song|"
            r"album|book|novel|game|product|device|model|app|play|musical|painting|vessel|ship|rocket)\b",
            re.I,
        ),
        "name",
    ),
)
# Words of the question that say what kind of answer is wanted, not what it is about.
_QUESTION_WORDS = frozenset(
    """what which who whom whose when where why how much many long old far is are was were be been being do does did
    has have had can could will would should shall may might the a an of in on at to for from by with and or but
    about as it its it's their there this that these those than then so if also any some according other else
    reported report reports say says said tell told according article articles news story stories source sources
    company companies firm firms number amount percentage percent date day year time person people individual
    both either neither between after before during same made make get got one ones just only more most least
    they them he she his her him we us you your i me my
    """.split()
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’&.-]*[A-Za-z0-9]|[A-Za-z0-9]")


_IRREGULAR = {
    "spent": "spend", "won": "win", "led": "lead", "paid": "pay", "sold": "sell", "bought": "buy", "made": "make",
    "held": "hold", "took": "take", "gave": "give", "grew": "grow", "fell": "fall", "rose": "rise", "began": "begin",
    "ran": "run", "said": "say", "met": "meet", "lost": "lose", "beat": "beat", "told": "tell", "put": "put",
}  # fmt: skip


# News wording for the same act: a question's "talk to" is an article's "discussed".
_SAME = {"discuss": "talk", "negotiat": "talk", "acquir": "buy", "purchas": "buy", "defeat": "beat"}


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude stem so 'talks', 'talked' and 'talk' meet; enough for matching question words to sentences."""
    w = _stem(word)
    return _SAME.get(w, w)


def _stem(word: str) -> str:
    w = word.lower().strip(".'’").removesuffix("'s").removesuffix("’s")
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]?", w):  # "U.S." and "US" are one word
        w = w.replace(".", "")
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    for suffix in ("ing", "ied", "ies", "ed", "es", "s"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            w = w[: -len(suffix)] + ("y" if suffix in ("ied", "ies") else "")
            break
    return w


@functools.lru_cache(maxsize=4096)
def stems(text: str) -> frozenset[str]:
    """The stems of a text's words; remembered, since scoring asks for the same passages' stems per sentence."""
    return frozenset(stem(w) for w in _WORD.findall(text))


def answer_type(question: str) -> AnswerType:
    q = _LEAD.sub("", question).strip()
    clauses = [c.strip() for c in re.split(r",\s*", q)]
    wh_first = re.search(r"\b(?:what|which|who|whom|whose|when|where|how)\b", clauses[0], re.I)
    if not wh_first and any(_YES_NO.match(c) for c in clauses):
        return "yes_no"
    if re.search(r"\bby how much\b", q, re.I):
        return "number"
    for pattern, kind in _RULES:
        if pattern.search(q):
            return kind
    return "free"


# ---------- event dates: when the asked event happened, as opposed to a publication window ----------
@dataclass(frozen=True)
class EventDate:
    """A year or month the question asks about ("in 2024", "in November 2023", "the 2024 election")."""

    year: int
    month: int | None = None
    phrase: str = ""
    in_name: bool = False  # "Cyberpunk 2077", "Election 2020": a number a name carries, which may lie ahead

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month or 1, 1, tzinfo=UTC)

    def after(self, as_of: datetime) -> bool:
        """Nothing about this date can be reported yet: it begins after as_of."""
        if self.in_name:
            return False
        return self.start > (as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC))

    def in_text(self, text: str) -> bool:
        """The text dates something to this year; "since 2018" or "before 2018" dates something else."""
        if not re.search(rf"(?<!since )(?<!after )(?<!before )(?<!until )(?<![\d-]){self.year}(?![\d-])", text):
            return False
        if self.month is None:
            return True
        names = "|".join(n for n, i in _MONTH_NUMBER.items() if i == self.month)
        return bool(re.search(rf"\b(?:{names})\b", text, re.I))

    def published_in(self, when: datetime | None) -> bool:
        if when is None or when.year != self.year:
            return False
        return self.month is None or when.month == self.month


_YEAR = re.compile(r"(?<![\d$-])((?:19|20)\d{2})(?![\d%-])")
_WINDOW_BEFORE_YEAR = re.compile(r"\b(?:since|after|from|before|until|through|published|reported|as of)\s*$", re.I)
_MONTH_BEFORE_YEAR = re.compile(rf"\b({_MONTH_RE})\s*$", re.I)


def event_dates(question: str) -> tuple[EventDate, ...]:
    """Years (with a month when one is named) that date the asked event. Windows ("since 2019", "after
    October 2023") and publication days ("the report from The Verge on 2023-11-24") are not events."""
    day_spans = [(d.position, d.position + 24) for d in mentioned_days(question)]
    found: list[EventDate] = []
    for m in _YEAR.finditer(question):
        if any(s <= m.start() < e for s, e in day_spans):
            continue
        before = question[max(0, m.start() - 30) : m.start()]
        month = None
        if mm := _MONTH_BEFORE_YEAR.search(before):
            month = _MONTH_NUMBER[mm.group(1).lower().rstrip(".")]
            before = before[: mm.start()]
        if _WINDOW_BEFORE_YEAR.search(before):
            continue
        phrase = question[m.start() - (len(mm.group(0)) if month and mm else 0) : m.end()]
        in_name = not month and bool(re.search(r"[A-Z][\w'’-]*\s+$", before))
        found.append(EventDate(int(m.group(1)), month, phrase.strip(), in_name))
    unique = {(d.year, d.month): d for d in found}
    return tuple(unique.values())


# ---------- the plan ----------
# Names in any alphabet's letters after a capital ("Pogačar", "Côté", "Azaïzia").
_PROPER = re.compile(r"\b[A-Z][\w&'’.-]*(?:\s+(?:of|de|du|van|von|der|la|le|and|&)?\s*[A-Z][\w&'’.-]*)*")
_OTHER_THAN = re.compile(r"\bother than\s+([A-Z][\w&'’.-]*(?:\s+[A-Z][\w&'’.-]*)*)")


@dataclass(frozen=True)
class QuestionPlan:
    question: str
    answer_type: AnswerType
    key_terms: tuple[str, ...]  # stems an answer-bearing sentence should touch
    entities: tuple[str, ...]  # names the question itself uses (never an answer to it)
    event_dates: tuple[EventDate, ...] = ()
    excluded: tuple[str, ...] = ()  # "which AI company other than OpenAI": OpenAI is not the answer
    unit: str | None = None  # "how many seats": the noun a count should come with
    verb: str | None = None  # "who won ...": what the named one did; an answering sentence says it
    overview: bool = False  # "what is the latest on X": the news itself, not one fact of it
    role: str | None = None  # "who is the director of X": the role an answering sentence gives its name

    @property
    def typed(self) -> bool:
        return self.answer_type in TYPED

    def future_event(self, as_of: datetime) -> EventDate | None:
        return next((d for d in self.event_dates if d.after(as_of)), None)

    def coverage(self, sentence: str, context: str = "") -> float:
        """Share of the key terms in the sentence; a term found only in the surrounding passage counts half."""
        if not self.key_terms:
            return 1.0
        inside, around = stems(sentence), stems(context)
        got = sum(1.0 if t in inside else 0.5 if t in around else 0.0 for t in self.key_terms)
        return got / len(self.key_terms)

    def named(self, sentence: str, context: str = "") -> float:
        """Share of the question's names (those among its key terms) found, each by any of its words: in the
        sentence counts 1, only elsewhere in its passage half ("Butch Wilmore" is found by "Wilmore")."""
        inside, around = stems(sentence), stems(context)
        found: list[float] = []
        for entity in self.entities:
            words = {stem(w) for w in entity.split()} & set(self.key_terms)
            if words:
                found.append(max(1.0 if t in inside else 0.5 if t in around else 0.0 for t in words))
        return sum(found) / len(found) if found else 1.0

    def says_role(self, sentence: str) -> bool:
        """The asked role, in any form ("director", "directed by") or news wording for it ("chief executive")."""
        return not self.role or self.role_at(sentence) is not None

    def says_verb(self, sentence: str) -> bool:
        """The question's verb, a word it begins ("agreed" / "agreement"), or news wording for the same act
        ("who won the prize": "the prize went to", "was awarded to") is in the sentence."""
        return not self.verb or self.verb_at(sentence) is not None

    @property
    def acting_place(self) -> bool:
        """ "Which country won ...": the place is who acted, so it is named without "in" or "at"."""
        return self.answer_type == "place" and bool(_PLACE_ACTS.match(self.question))

    def role_at(self, sentence: str) -> int | None:
        """Where the sentence gives the asked role ("video director Bruce Gowers"), if it does."""
        if not self.role:
            return None
        root = self.role[:6] if len(self.role) > 6 else self.role
        return _said_at(sentence, lambda word: word.startswith(root), _ROLE_AS.get(self.role))

    def verb_at(self, sentence: str) -> int | None:
        """Where the sentence says the question's act ("came out on top", "won"), if it does."""
        if not self.verb:
            return None
        verb = self.verb
        root = verb.removesuffix("e") if len(verb) > 4 else verb  # "premiere" / "premiered"
        return _said_at(
            sentence, lambda word: word == verb or (len(root) >= 4 and word.startswith(root)), _SAID_AS.get(root)
        )


def _said_at(sentence: str, matches: Callable[[str], bool], said: re.Pattern[str] | None) -> int | None:
    """Where a word whose stem `matches`, or else the news wording `said`, first occurs in the sentence."""
    for m in _WORD.finditer(sentence):
        if matches(stem(m.group(0))):
            return m.start()
    found = said.search(sentence) if said else None
    return found.start() if found else None


# How news writes some acts without the question's verb: a prize "went to" its winner, a title was "clinched"
# ("the academy awarded the prize" names the giver, so "awarded" counts only as "awarded to" or "was awarded").
_SAID_AS: dict[str, re.Pattern[str]] = {
    "win": re.compile(
        r"\b(?:went|goes|awarded|given|handed)\s+to\b|\b(?:was|were|been|is|are)\s+awarded\b|"
        r"\b(?:wins|winning|winners?|victors?|victory|victorious|champions?|laureates?|clinch(?:ed|es)|captured|"
        r"received|beat|defeated|triumphed|elected|chose|chosen|topped)\b|\bcame out on top\b",
        re.I,
    ),
    "releas": re.compile(r"\b(?:launch\w*|debut\w*|came out|comes? out|hits? (?:shelves|stores))\b", re.I),
    "premier": re.compile(r"\b(?:debut\w*|airs?|aired|returns?|returned)\b", re.I),
    "announc": re.compile(r"\b(?:unveil\w*|reveal\w*|introduc\w*|launch\w*)\b", re.I),
    "found": re.compile(r"\b(?:established|set up|started|formed|created|launched)\b", re.I),
    "host": re.compile(r"\b(?:held|staged|venue|site)\b", re.I),
    "launch": re.compile(r"\b(?:releas\w*|debut\w*|lift(?:ed|s)? off|blast(?:ed|s)? off)\b", re.I),
}


_LAST_VERB = re.compile(
    r"\b(?:did|does|do)\s+[^?]*?\b([a-z]{3,})(?:\s+(?:to|with|for|from|about|into|up|down|off|out|over))?\s*\?*\s*$"
)


# Questions that ask for the news on a topic rather than one fact of it.
_OVERVIEW = re.compile(
    r"^(?:what(?:['’]s| is| are)?\s+(?:the\s+)?(?:latest|newest|new|most recent)(?:\s+(?:news|developments?|updates?))?"
    r"\s+(?:on|about|with|in|regarding|for)\b|what(?:['’]s| is) (?:happening|going on) (?:with|to|in|at|on)\b|"
    r"(?:any )?(?:news|updates?) (?:on|about)\b)",
    re.I,
)


# "Who is the <role> of/in X": the role, unless it only says "a person" ("who is the individual that ...").
_ROLE = re.compile(
    r"^\s*(?:and\s+)?who (?:is|was|are|were|will be) (?:the |its |their )?(?:new |current |lead |main )?"
    r"([a-z][a-z-]*) (?:of|in|at|for|on)\b",
    re.I,
)
_NOT_ROLES = frozenset({"individual", "person", "people", "man", "woman", "one", "company", "firm", "group", "team"})
_ROLE_AS: dict[str, re.Pattern[str]] = {
    "ceo": re.compile(r"\b(?:chief executive|boss|head|leader)\b", re.I),
    "president": re.compile(r"\b(?:head|leader|chief|chair\w*|commissioner)\b", re.I),
    "actres": re.compile(r"\b(?:star\w*|plays?|played|playing|cast|role|actor)\b", re.I),
    "actor": re.compile(r"\b(?:star\w*|plays?|played|playing|cast|role|actress)\b", re.I),
    "runner-up": re.compile(r"\b(?:runners?-up|second|finalists?|lost|beaten|defeated)\b", re.I),
}

_WHEN_VERB = re.compile(r"^when (was|were|is|are|will|has|have|had)\b[^?]*?\b([a-z]{3,})\s*\?*\s*$", re.I)


@functools.lru_cache(maxsize=1024)
def read_question(question: str) -> QuestionPlan:
    """The plan of a question (frozen, so one reading serves every sentence the answerer checks against it)."""
    return _read_question(question)


def _read_question(question: str) -> QuestionPlan:
    q = _LEAD.sub("", question).strip()
    kind = answer_type(q)
    excluded = tuple(m.group(1) for m in _OTHER_THAN.finditer(q))
    entities: list[str] = []
    for m in _PROPER.finditer(q):
        name = re.sub(r"['’]s$", "", m.group(0).strip(" .'’"))
        first = name.split()[0].lower() if name else ""
        if m.start() == 0 and first in _QUESTION_WORDS:
            rest = name.split(maxsplit=1)
            if len(rest) < 2:
                continue
            name = rest[1]
        for part in re.split(r"\s+(?:and|&)\s+", name):
            if part and part.lower() not in _QUESTION_WORDS and part.lower() not in _MONTH_NUMBER:
                entities.append(part)
    dates = event_dates(q)
    date_words = {str(d.year) for d in dates}
    terms: list[str] = []
    for word in _WORD.findall(q):
        s = stem(word)
        if word.lower() in _QUESTION_WORDS or s in _QUESTION_WORDS or word in date_words or len(s) < 2:
            continue
        if word.lower() in _MONTH_NUMBER or re.fullmatch(r"\d{4}-\d{2}-\d{2}", word):
            continue
        if s not in terms:
            terms.append(s)
    dropped = {stem(w) for e in excluded for w in e.split()}
    terms = [t for t in terms if t not in dropped]
    unit = None
    if counted := re.search(r"\bhow many\s+(?:\w+\s+)??([a-z]+)\b", q, re.I):
        unit = stem(counted.group(1))
    verb = None
    if (acted := re.match(r"(?:who|which \w+|what \w+)\s+([a-z]+)\b", q, re.I)) and (
        acted.group(1).lower() in _IRREGULAR or acted.group(1).lower().endswith("ed")
    ):
        verb = stem(acted.group(1))
    elif kind in ("person", "organisation", "date") and (last := _LAST_VERB.search(q)):
        verb = stem(last.group(1))  # "which company did Microsoft talk to": talk; "when did the lander launch": launch
    elif (
        kind == "date"
        and (when := _WHEN_VERB.search(q))
        and (when.group(1).lower() == "will" or when.group(2).endswith("ed") or when.group(2) in _IRREGULAR)
    ):
        verb = stem(when.group(2))  # "when was Diablo 3 released": released; "when will the season premiere"
    elif kind == "date" and (noun := re.search(r"\b(release|premiere|launch|opening) date\b", q, re.I)):
        verb = stem(noun.group(1).lower().replace("opening", "open"))  # "the release date of ...": released
    role = None
    if kind == "person" and (asked_role := _ROLE.match(q)) and asked_role.group(1).lower() not in _NOT_ROLES:
        role = stem(asked_role.group(1))
    return QuestionPlan(
        question=question,
        verb=verb,
        role=role,
        answer_type=kind,
        key_terms=tuple(terms),
        entities=tuple(dict.fromkeys(entities)),
        event_dates=dates,
        excluded=excluded,
        unit=unit,
        overview=kind == "free" and bool(_OVERVIEW.match(q)),
    )


# ---------- spans of each type inside a sentence ----------
_QUAL = (
    r"(?:(?:more than|over|about|around|nearly|almost|roughly|some|at least|up to|less than|approximately|"
    r"an estimated|just over|just under)\s+)?"
)
_SCALE = r"(?:\s*(?:thousand|million|billion|trillion|bn|mn|tn)\b|[kmb]\b)?"
_NUM = r"\d[\d,]*(?:\.\d+)?"
_MONEY = re.compile(
    rf"{_QUAL}(?:US|A|C|HK|NZ)?[$€£¥₹]\s?{_NUM}{_SCALE}"
    rf"|{_QUAL}{_NUM}\s*(?:thousand|million|billion|trillion)?\s*(?:dollars|euros|pounds|yen|yuan|kronor|krona|"
    rf"rupees|francs|won|rubles|roubles)\b",
    re.I,
)
_SPELLED = r"(?:half|a quarter|a third|one|two|three|four|five|six|seven|eight|nine|ten|a|a full)"
_PERCENT = re.compile(
    rf"{_QUAL}{_NUM}\s*(?:%|percent\b|per cent\b|percentage points?\b)"
    rf"|{_QUAL}\b{_SPELLED}(?:\s+of\s+a)?\s+(?:percentage point|point)s?\b",
    re.I,
)
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
    r"a dozen|dozens|hundreds|thousands|millions)"
)
_NUMBER = re.compile(
    rf"{_QUAL}(?<![\w.-]){_NUM}{_SCALE}(?:\s+[a-z]+)?|{_QUAL}\b{_NUMBER_WORDS}\b(?:\s+[a-z]+)?",
    re.I,
)
_DATE = re.compile(
    rf"\b{_MONTH_RE}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE}(?:,?\s+\d{{4}})?\b"
    rf"|\b{_MONTH_RE}\s+\d{{4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
    rf"|\b(?:in|since|by|from|until|of|during)\s+(?:(?:early|mid|late)\s+)?(?:19|20)\d{{2}}\b"
    rf"|\b(?:on|last|next|this)\s+{_WEEKDAY_RE}\b|\b{_WEEKDAY_RE}\b"
    # times of day: "midnight", "noon", "9 p.m.", "10:30", "6 o'clock"
    r"|(?i:\b(?:midnight|noon|midday)\b|\b\d{1,2}(?::\d{2})?\s*(?:[ap]\.m\.|[ap]m\b)|\b\d{1,2}:\d{2}\b"
    r"|\b\d{1,2}\s+o['’]clock\b)",
)
_TITLES = re.compile(
    r"^(?:(?:The|A|An|In|On|At|By|For|But|And|Under|After|Before|With|Its|Their|His|Her|Quarterback|President|"
    r"Prime Minister|Chancellor|Governor|Chair|Chairman|Secretary|Commerce Secretary|Chief Executive|CEO|"
    r"Vice President|Former|Mr|Mrs|Ms|Dr|Prof|Sir|Dame|Rookie|Coach|Senator|Representative|Judge|"
    r"Director|Founder|Analyst|Analysts)\.?\s+)+"
)
_NOT_NAMES = (
    frozenset(
        """The A An In On At By For But And It Its This That These Those He She They His Her Their We Our
    Under After Before With When While Where What Which Who How Some Many Most Other Others Both Each
    Analysts Officials Scientists Investors Organisers Experts Shares Stocks Together Earlier Later
    Meanwhile However Also Still Neither Nor One Two Three Half Against Despite Although Though Because
    Since Until Unless Whether Why Meet As Then Now Here There Today Yesterday Update Updated Sources Source
    Please Note Having Being Watch Read See Learn Men Women Former""".split()
    )
    | {m.capitalize() for m in _MONTH_NUMBER}
    | {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
)
ORG_HINT = re.compile(
    r"\b(?:Inc|Corp|Co|Ltd|Group|Capital|Partners|Ventures|Bank|Holdings|Technologies|Labs|Motors|Airlines|"
    r"Systems|Media|Foundation|Institute|University|Agency|Department|Commission|Association|AI|PBC|LLC)\b"
)


@dataclass(frozen=True)
class Span:
    start: int  # offsets into the sentence
    end: int
    text: str


def proper_names(sentence: str) -> list[Span]:
    """Capitalised names in a sentence, leading titles and sentence openers removed; "A and B" are two, and so
    are "A's B"."""
    out: list[Span] = []
    for m in _PROPER.finditer(sentence):
        offset = m.start()
        for part in re.split(r"(\s+(?:and|&)\s+|['’]s\s+)", m.group(0)):  # "Nintendo's CEO Doug Bowser": two
            if not re.fullmatch(r"\s+(?:and|&)\s+|['’]s\s+", part) and (span := _clean_name(sentence, offset, part)):
                out.append(span)
            offset += len(part)
    return out


def _clean_name(sentence: str, start: int, raw: str) -> Span | None:
    text = raw.rstrip(" .,'’&-")
    if title := _TITLES.match(text):
        start += title.end()
        text = text[title.end() :]
    words = text.split()
    while words and (words[0] in _NOT_NAMES or words[0].islower()):  # "of Binance" after a dropped opener
        start += len(words[0]) + 1
        words = words[1:]
    text = " ".join(words)
    if len(text) < 2 or text in _NOT_NAMES or text.isdigit():  # "3-D" names no "D"
        return None
    # a possessive ("Anthropic's Claude": Anthropic) or closing punctuation is not part of the name
    text = re.split(r"['’]s\b", text)[0].rstrip(".,")
    if text and sentence[start : start + len(text)] == text:
        return Span(start, start + len(text), text)
    return None


def spans(sentence: str, plan: QuestionPlan) -> list[Span]:
    """Spans of the plan's answer type in a sentence, best first; names the question uses are not answers."""
    kind = plan.answer_type
    if kind not in TYPED:
        return []
    if kind == "money":
        found = [Span(m.start(), m.end(), m.group(0)) for m in _MONEY.finditer(sentence)]
    elif kind == "percentage":
        found = [Span(m.start(), m.end(), m.group(0)) for m in _PERCENT.finditer(sentence)]
    elif kind == "number":
        found = _number_spans(sentence, plan)
    elif kind == "date":
        found = sorted((Span(m.start(), m.end(), m.group(0)) for m in _DATE.finditer(sentence)), key=_specificity)
    else:
        found = _entity_spans(sentence, plan)
    return found


def _specificity(span: Span) -> int:
    """Most specific date first: "Nov. 12, 2020" before "Nov. 12" before "November 2020" before "Thursday"."""
    text = span.text
    has_day = bool(re.search(r"\d{1,2}(?:st|nd|rd|th)?\b", re.sub(r"\b\d{4}\b", "", text)))
    has_year = bool(re.search(r"\b\d{4}\b", text))
    has_month = bool(re.search(_MONTH_RE, text)) or bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))
    return -(2 * has_day * has_month + has_month + has_year)


def _number_spans(sentence: str, plan: QuestionPlan) -> list[Span]:
    found: list[Span] = []
    for m in _NUMBER.finditer(sentence):
        text = m.group(0)
        core = text.split()[-1] if len(text.split()) > 1 else ""
        # "835 megawatts", "286 days": keep the unit word; a trailing ordinary word is dropped
        if core and (core.lower() in ("the", "and", "of", "to", "in", "on", "a", "for", "with") or not core.isalpha()):
            text = text[: text.rfind(core)].rstrip()
        if re.fullmatch(r"(?:19|20)\d{2}", text.split()[0]) and len(text.split()) == 1:
            continue  # a bare year is a date, not a count
        found.append(Span(m.start(), m.start() + len(text), text))
    measured = [Span(m.start(), m.end(), m.group(0)) for m in _PERCENT.finditer(sentence)]
    measured += [Span(m.start(), m.end(), m.group(0)) for m in _MONEY.finditer(sentence)]
    found = _dedupe(measured + found)
    if plan.unit:  # "how many seats": a count of something else is not the answer
        found = [s for s in found if plan.unit in stems(sentence[s.start : s.end + 30])]
    return found


def _entity_spans(sentence: str, plan: QuestionPlan) -> list[Span]:
    named = {stem(w) for e in plan.entities for w in e.split()}
    asked = named | stems(plan.question)  # "Who was named Teacher of the Year?": not "Year"
    excluded = {e.lower() for e in plan.excluded}
    out: list[Span] = []
    for span in proper_names(sentence):
        if plan.answer_type == "person":
            span = _after_title(span)
            if span.text in _NOT_NAMES:  # "FIFA Men"
                continue
        words = {stem(w) for w in span.text.split()}
        if words <= asked or span.text.lower() in excluded or any(span.text.lower() in x for x in excluded):
            continue
        if plan.answer_type in ("person", "place") and words & named:
            continue  # "who won Wimbledon": not "Wimbledon Championships"; a person or place is not what is asked about
        out.append(span)
    if plan.answer_type == "place" and not plan.acting_place:
        # a place is where something is: "in Mare Crisium", "at Raymond James Stadium"
        out = [
            s for s in out if re.search(r"\b(?:in|at|near|from|on|outside|inside)\s+(?:the\s+)?$", sentence[: s.start])
        ]
    elif plan.acting_place:  # "Summer Olympics" is no country or city
        out = [s for s in out if not _EVENT_WORDS.search(s.text)]
    if plan.answer_type == "person":
        # "victory in Paris" names a place, not a person
        out = [
            s for s in out if len(s.text.split()) > 1 or not re.search(r"\b(?:in|at|to|from)\s+$", sentence[: s.start])
        ]
        if (role := _PRESENT_ROLE.match(plan.question)) and not re.search(r"\b(?:former|ex-|late)\b", plan.question):
            out = [s for s in out if not _formerly(sentence, s, role.group(1))]  # not "the former president"
        out = [s for s in out if not _PLACE_FIRST.match(s.text)]  # "Las Vegas educator"
        out = [s for s in out if not _ATTRIBUTIVE.match(sentence[s.end :])]  # "the Alabama quarterback"
        people = [s for s in out if len(s.text.split()) >= 2 and not ORG_HINT.search(s.text)]
        out = people + [s for s in out if s not in people]
    return out


# "Who is the president of FIFA": a role held now
_PRESENT_ROLE = re.compile(r"^\s*(?:and\s+)?who (?:is|are) (?:the |its |their )?(?:new |current )?([a-z][\w-]*)", re.I)
# "Which country won ...", "which city hosted ...": the place itself acts, so it is named without "in" or "at".
_PLACE_ACTS = re.compile(
    r"^\s*(?:and\s+)?(?:which|what) (?:country|countries|city|cities|nation|state|town|region)\s+"
    r"(?!(?:is|was|are|were|did|does|do|has|have|had|will|would|can|could)\b)[a-z]+(?:ed|s)?\b",
    re.I,
)
_EVENT_WORDS = re.compile(r"\b(?:Olympics|Games|Cup|Championships?|Awards?|Election|Festival|Summit|Conference)\b")
_ATTRIBUTIVE = re.compile(
    r"\s+(?:quarterback|player|players|coach|founder|team|fans|officials|educator|director|star|striker|forward|"
    r"president|ceo|chief|spokes\w+|executive|board|club|side|native|resident|company|firm|group)\b"
)
_PLACE_FIRST = re.compile(r"(?:Las|Los|San|Santa|Fort|Lake|Mount|Port|North|South|East|West)\s")


# What stands before a person's name in a run of capitals: "Apple CEO Tim Cook", "FIFA President Gianni Infantino",
# "Thirteen-year-old Lilly"
_BEFORE_PERSON = re.compile(
    r"^(?:.*\s)?(?:[A-Z]{3,}|Chief Executive|Chairman|Chairwoman|President|Director|Minister|Senator|Governor|"
    r"Coach|Judge|Founder|Sen\.|Gov\.|Dr\.|Mr\.|Ms\.|Mrs\.|[\w-]+-[Yy]ear-[Oo]ld)\s+(?=[A-Z][a-z])"
)


def _after_title(span: Span) -> Span:
    if m := _BEFORE_PERSON.match(span.text):
        return Span(span.start + m.end(), span.end, span.text[m.end() :])
    return span


def _formerly(sentence: str, span: Span, role: str) -> bool:
    """The name is given as the role's former holder: "former president Ann Lee", "Sepp Blatter, the former
    president of FIFA", "Ann Lee was the CEO", "Ann Lee announced she was stepping down as CEO" (a "former CEO"
    answers who the individual is, not who the president is now)."""
    before, after = sentence[: span.start], sentence[span.end :]
    former = rf"\b(?:former|ex-|then-|late)\s*(?:[\w-]+\s+){{0,2}}{re.escape(role)}"
    was = rf"^\s+(?:was|had been)\s+(?:the\s+|a\s+)?(?:[\w-]+\s+){{0,3}}{re.escape(role)}"
    left = rf"^.{{0,60}}\b(?:stepp(?:ing|ed)|steps?)\s+down\s+as\s+(?:[\w-]+\s+){{0,2}}{re.escape(role)}"
    return bool(
        re.search(rf"{former}\s*$", before, re.I)
        or re.match(rf"^,?\s+(?:the\s+|a\s+)?{former}", after, re.I)
        or re.match(was, after, re.I)
        or re.match(left, after, re.I)
    )


def _dedupe(found: list[Span]) -> list[Span]:
    out: list[Span] = []
    for s in found:
        if not any(o.start <= s.start < o.end or s.start <= o.start < s.end for o in out):
            out.append(s)
    return out


def relative_year(sentence: str, published_at: datetime | None) -> int | None:
    """The year "this year" / "last year" names in an article published at `published_at`."""
    if published_at is None:
        return None
    if re.search(r"\bthis year\b|\bearlier this year\b|\blater this year\b", sentence, re.I):
        return published_at.year
    if re.search(r"\blast year\b", sentence, re.I):
        return (published_at - timedelta(days=365)).year
    return None


# ---------- outlets the question attributes reporting to ----------
_OUTLET_NAME = r"(?:[A-Z][\w&.'’-]*|of|and|&|\|)(?:\s+(?:[A-Z][\w&.'’-]*|of|and|&|\||-))*"
_MEDIA = (
    r"(?:articles?|reports?|pieces?|stor(?:y|ies)|reviews?|columns?|op-eds?|editorials?|coverage|podcasts?|"
    r"newsletters?|investigations?|interviews?|analys[ie]s|features?|broadcasts?|segments?)"
)
_OUTLET_PATTERNS = (
    re.compile(rf"['\"‘“]([^'\"’”]{{2,60}})['\"’”]\s+{_MEDIA}\b"),  # the 'Fortune' article
    re.compile(  # a New York Times report
        rf"\b(?:[Aa]n?|[Tt]he|[Aa]nother)\s+(?:(?:recent|separate|latest|subsequent|earlier|later)\s+)?"
        rf"({_OUTLET_NAME})\s+{_MEDIA}\b"
    ),
    re.compile(r"\b(?:according to|reported by|published by|covered by)\s+['\"‘“]([^'\"’”]{2,60})['\"’”]"),
    re.compile(  # an article from The Wall Street Journal, another in The Guardian
        rf"\b(?:{_MEDIA}|another|one)\s+(?:from|by|in)\s+(The\s+[A-Z][\w&.'’-]*(?:\s+[A-Z][\w&.'’-]*)*)"
    ),
)


def named_outlets(question: str) -> tuple[str, ...]:
    """Outlets the question says reported something ("a New York Times article", "according to 'The Age'").
    Only these forms: a bare "according to X" may name a person, not an outlet."""
    found = [m.group(1).strip(" '’") for p in _OUTLET_PATTERNS for m in p.finditer(question)]
    return tuple(dict.fromkeys(n for n in found if n))


def outlet_key(name: str) -> str:
    """An outlet's name for comparison: case, a leading "The" and punctuation aside."""
    return re.sub(r"[^a-z0-9]+", " ", re.sub(r"^the\s+", "", name.lower())).strip()


def same_outlet(named: str, known: str) -> bool:
    """ "BBC" is "BBC News - Entertainment & Arts"; "The Independent" is "The Independent - Sports"."""
    a, b = outlet_key(named), outlet_key(known)
    return bool(a and b) and (
        re.search(rf"\b{re.escape(a)}\b", b) is not None or re.search(rf"\b{re.escape(b)}\b", a) is not None
    )


# ---------- numbered names: "Splatoon 2", "Season 11", "Apollo 11" ----------
_NUMBERED = re.compile(
    r"\b([A-Z][\w'’-]*|[Ss]eason|[Ee]pisode|[Pp]art|[Vv]olume|[Cc]hapter|[Gg]ame)\s+(\d{1,3})\b"
    r"(?![.,]\d|\s*[-–]\s*\d)"  # not a score ("Chiefs 40-22")
    r"(?!\s+(?:years?|months?|weeks?|days?|hours?|minutes?|times|percent|per|million|billion|people|points)\b)"
)


# "Avengers: Infinity War": a subtitle is two capitalised words or more ("From Netflix: The world of ..." is none)
_SUBTITLED = re.compile(r"\b([A-Z][\w'’-]*):\s+(?:(?:The|A|An)\s+)?([A-Z][\w'’-]*)\s+(?:(?:of|the|and|a)\s+)*[A-Z]")


def subtitle_clash(question: str, sentence: str) -> bool:
    """The sentence names another work of the asked title's series: "Avengers: Infinity War" for a question about
    "The Avengers", "Xenoblade Chronicles: Definitive Edition" for "Xenoblade Chronicles" (not when it also
    names the asked one, with its subtitle or without one)."""
    asked = {w.lower() for w in _WORD.findall(question)}
    subtitles = {m.group(1).lower(): m.group(2).lower() for m in _SUBTITLED.finditer(question)}
    clash = False
    for m in _SUBTITLED.finditer(sentence):
        head, subtitle = m.group(1).lower(), m.group(2).lower()
        if head not in asked:
            continue
        if subtitles.get(head) == subtitle:
            return False
        plain = re.search(rf"\b{re.escape(m.group(1))}\b(?!:)", sentence)
        if head in subtitles or not plain:
            clash = True
    return clash


# A word that makes a name longer and names another thing; the event's own words ("Marathon Championships",
# "Cup Final") name the same one.
_LONGER = re.compile(
    r"\s+(?!(?:Championships?|Finals?|Tournament|Race|Games|Series|Competition|Event|Day|Week)\b)[A-Z][\w'’-]*"
)


def extended_clash(question: str, sentence: str) -> bool:
    """The sentence names a longer thing that begins with a name the question uses: the "NBA Draft Combine" for
    the "NBA Draft", "Assassin's Creed Syndicate" for "Assassin's Creed" (names of two words or more, and only
    where the sentence never names the asked one alone)."""
    for name in read_question(question).entities:
        if len(name.split()) < 2:
            continue
        found = [m.end() for m in re.finditer(rf"\b{re.escape(name)}\b", sentence)]
        if found and all(re.match(_LONGER, sentence[end:]) for end in found):
            return True
    return False


def numbered_clash(question: str, sentence: str) -> bool:
    """The sentence names something the question names, with another number: "Splatoon 1" for a question
    about "Splatoon 2", "Spider-Man 2" for "Marvel's Spider-Man", "Season 10" for "Season 11"."""
    asked = {w.lower() for w in _WORD.findall(question)}
    numbers = {m.group(1).lower(): m.group(2) for m in _NUMBERED.finditer(question)}
    clash = False
    for m in _NUMBERED.finditer(sentence):
        head, number = m.group(1).lower(), m.group(2)
        if head not in asked or head in _MONTH_NUMBER:  # "May 15" is a date
            continue
        if numbers.get(head) == number:
            return False  # it also names the asked one
        clash = True
    return clash


# ---------- qualified names: "Nobel Prize in Chemistry", "Ministry of Defence" ----------
_QUALIFIED = re.compile(
    r"\b([A-Z][\w'’-]*|(?:president|ceo|director|chairman|head|leader|captain|coach|minister|governor|mayor|"
    r"founder|owner)s?)\s+(?:in|of|for)\s+(?:the\s+)?([A-Z][\w'’-]*)"
)
# "Maxwell Award", "US Open": a prize, a title or a contest named by the word before it
_NAMED_BY = re.compile(
    r"\b([A-Z][\w'’.-]*)\s+(Awards?|Prize|Cup|Trophy|Medal|Open|Championships?|Election|Games|Festival)\b"
)


def _qualifiers(text: str) -> list[tuple[str, str]]:
    """(head, qualifier) pairs; a qualifier before the head is keyed apart from one after it ("Kessel Prize in
    Geology": prize/geology and kessel/prize)."""
    pairs = [(m.group(1).lower().removesuffix("s"), m.group(2).lower()) for m in _QUALIFIED.finditer(text)]
    pairs += [
        ("^" + m.group(2).lower().removesuffix("s"), m.group(1).lower().replace(".", ""))
        for m in _NAMED_BY.finditer(text)
    ]
    return pairs


def qualifier_clash(question: str, sentence: str) -> bool:
    """The sentence names what the question names with another qualifier and never the asked one: the "Kessel
    Prize in Chemistry" for a question about the "Kessel Prize in Geology", the "CFDA Awards" for the "Maxwell
    Award"."""
    asked: dict[str, set[str]] = {}
    for head, qualifier in _qualifiers(question):
        asked.setdefault(head, set()).add(qualifier)
    said: dict[str, set[str]] = {}
    for head, qualifier in _qualifiers(sentence):
        said.setdefault(head, set()).add(qualifier)
    # a clash unless it also names the asked one
    return any(head in asked and not qualifiers & asked[head] for head, qualifiers in said.items())
