"""Claim-by-claim checks of a justification against the item card and the user's history.

Each claim gets one label, ``supported`` / ``unsupported`` / ``contradicted``, and the findings and evidence behind
it. Deterministic rules decide whatever they can (they are what a user can verify by reading the card):

- **titles**: a catalog title the claim names must be the item itself, a history item the user really saw, or one of
  the candidates; naming another item is a *non-candidate mention*, and "you loved X" for an X the user never saw is
  an unsupported *history claim*;
- **names**: a capitalised name (person or title) that appears in neither the card, the history nor the request is
  *invented* (contradicted when the card names someone else in the same role: "directed by" vs ``Director:``);
- **years and numbers**: must appear in the card; a release year or a runtime/page/track/episode count that differs
  from the card's field is *contradicted*;
- **genres**: a genre word the card's genres (and text) lack is *contradicted*;
- **awards**: Oscar, award, prize, winner... that the card does not mention are *unsupported*.

What the rules leave open is decided by word overlap with the card: at least ``support_overlap`` of the claim's
content words found in the card (or history) means supported, less means unsupported; the LLM judge (``judge.py``)
may overrule the latter when it is confident. Fragments with no checkable content ("a great pick for tonight") are
opinions, kept aside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from llmrec.audit.claims import split_claims
from llmrec.audit.faithfulness import FaithfulnessResult
from llmrec.config import AuditConfig  # noqa: F401  (re-exported: the audit's settings live with the others)
from llmrec.cards import card_fields
from llmrec.explain.evidence import REQUEST_CUE, STOPWORDS, title_variants

if TYPE_CHECKING:
    from llmrec.audit.judge import ClaimJudge

Label = Literal["supported", "unsupported", "contradicted"]
Check = Literal["title", "history", "non-candidate", "name", "year", "number", "genre", "award", "overlap", "judge"]


# --- results ------------------------------------------------------------------------------------------------------

class Finding(BaseModel):
    """One thing a check found in a claim."""

    check: Check
    label: Label
    message: str
    evidence: list[str] = Field(default_factory=list, description="card:<field> = value, history:<id> (title)")


class ClaimVerdict(BaseModel):
    text: str
    start: int
    end: int
    label: Label
    method: Literal["rules", "overlap", "judge"] = Field(description="what decided the label")
    findings: list[Finding] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    judge_p_supported: float | None = None


class Flags(BaseModel):
    hallucination: bool = False            # any claim unsupported or contradicted
    non_candidate_mention: bool = False    # names a catalog item that was not among the candidates
    wrong_year_or_number: bool = False     # a year or count that the card does not have
    invented_person_or_title: bool = False # a name or title absent from card, history and request
    unseen_history: bool = False           # "you loved X" for an X not in the user's history


class ExplanationVerdict(BaseModel):
    """The audit of one justification."""

    item_id: str
    title: str
    justification: str
    declared_evidence: list[str] = Field(default_factory=list, description="the evidence the system itself cited")
    request_id: str | None = None
    group: str = Field("", description="model + adapter that produced it, or the external file's name")
    user_id: str | None = None
    query: str = ""
    card: str = ""
    claims: list[ClaimVerdict] = Field(default_factory=list)
    opinions: list[str] = Field(default_factory=list, description="fragments with nothing checkable in them")
    flags: Flags = Field(default_factory=Flags)
    cited_history: list[str] = Field(default_factory=list)
    faithfulness: FaithfulnessResult | None = None


@dataclass
class Subject:
    """What a justification is checked against."""

    item_id: str
    title: str
    card: str
    history: dict[str, str] = field(default_factory=dict)        # id -> title of items the user really saw
    history_cards: dict[str, str] = field(default_factory=dict)  # id -> card, for claims about the user's taste
    candidates: set[str] | None = None  # ids the system chose among; None: unknown (then only item + history)
    query: str = ""


# --- vocabulary ---------------------------------------------------------------------------------------------------

# Genre words that are genres whenever they appear, and aliases folded onto catalog spellings.
_GENRES = {
    "horror", "comedy", "thriller", "documentary", "western", "science fiction", "animation", "romance", "slasher",
    "techno", "synth-pop", "bluegrass", "funk", "jazz", "hip-hop", "rap", "rock", "heavy metal", "classical",
    "musical", "opera", "folk horror", "true crime", "cosy mystery", "literary fiction", "nature writing",
    "ambient", "noir", "film-noir", "melodrama", "satire", "sitcom", "mystery", "fantasy", "rom-com", "reggae",
    "soul", "blues", "country", "punk", "disco", "edm", "house music", "r&b", "gospel", "biography", "memoir",
    "poetry", "romcom",
}
# Words that are genres in a genres field but ordinary words in prose ("outer space", "a family inherits"): they
# count as genre claims only right before a kind noun ("a family film", "a history podcast") or after "genre".
_AMBIGUOUS_GENRES = {
    "space", "science", "nature", "history", "food", "travel", "culture", "family", "period", "political",
    "geography", "piano", "electronic", "folk", "gardening", "essays", "non-fiction", "crime", "adventure",
    "action", "drama", "gothic", "supernatural", "pop", "war", "children", "short stories", "brass band", "sport",
    "sports", "music", "war", "crime fiction", "fiction", "metal", "animated", "romantic", "comic",
}
_GENRE_ALIASES = {
    "sci-fi": "science fiction", "scifi": "science fiction", "science-fiction": "science fiction",
    "true-crime": "true crime", "folk-horror": "folk horror", "sf": "science fiction", "animated": "animation",
    "romantic": "romance", "rom-com": "romance comedy", "romcom": "romance comedy", "comedic": "comedy",
    "comedies": "comedy", "documentaries": "documentary", "thrillers": "thriller", "westerns": "western",
    "mysteries": "mystery", "romances": "romance", "cozy mystery": "cosy mystery", "synthpop": "synth-pop",
    "synth pop": "synth-pop", "electronica": "electronic", "film noir": "noir", "film-noir": "noir",
    "slashers": "slasher", "musicals": "musical", "fantasies": "fantasy", "dramas": "drama", "comic": "comedy",
    "nonfiction": "non-fiction", "non fiction": "non-fiction", "cartoon": "animation", "cartoons": "animation",
}
_KIND_NOUNS = {
    "film", "films", "movie", "movies", "podcast", "podcasts", "album", "albums", "book", "books", "novel",
    "novels", "story", "stories", "show", "shows", "record", "records", "episode", "episodes", "documentary",
    "fiction", "music", "tale", "tales", "series", "read", "listen", "watch", "pick", "title", "classic", "flick",
    "feature", "writing", "thriller", "drama", "comedy", "horror", "mystery", "collection", "genre", "fare",
    "cinema", "programme", "program", "release", "adventure", "epic", "saga", "romp", "set", "piece",
}
_AWARDS = (
    "oscar", "oscars", "academy award", "golden globe", "bafta", "emmy", "grammy", "grammys", "mercury prize",
    "booker", "pulitzer", "hugo award", "nebula award", "palme d'or", "cannes", "sundance", "berlinale",
    "award", "awards", "award-winning", "prize", "prizes", "prize-winning", "winner", "winners", "won",
    "nominated", "nomination", "nominations", "acclaimed", "bestseller", "bestselling", "best-seller",
    "best-selling", "chart-topping", "platinum", "laureate", "shortlisted", "longlisted", "festival favourite",
)
_NEGATION = re.compile(r"\b(?:not|no|nothing|never|without|isn't|isn’t|aren't|wasn't|non|unlike|rather than|"
                       r"instead of|neither|nor|free of|zero)\b[\w\s'’-]{0,20}$", re.IGNORECASE)
_HISTORY_CUE = re.compile(r"\b(?:you|your|you've|you’ve|you'd|you're|enjoyed|loved|liked|watched|rated|"
                          r"listened|finished|favourite|favorite|history|fan of|fans of)\b", re.IGNORECASE)
# Opinion and recommendation talk: words that assert nothing checkable about the item.
GENERIC_WORDS = frozenset("""
fans lover lovers love loved loves enjoy enjoyed enjoying enjoys perfect perfectly ideal ideally pick picks choice
great wonderful lovely brilliant excellent fantastic amazing nice fine solid strong best better favourite favorite
fits fitting match matches matching suits suit suited taste tastes mood want wants wanted wanting looking look
something anyone someone everyone anybody everybody watch watching watched listen listening listened read reading
evening evenings night nights weekend tonight afternoon morning recommend recommended recommending definitely
worth must will would should sure really right exactly request requests requested asked asking like likes liked
similar same vibe vibes sort type kind also offers offer delivers deliver brings bring gives give features feature
provides provide tells tell choose chosen option options appeal appeals appealing welcome fans' viewers viewer
readers reader listeners listener audience audiences people thing things stuff plenty lots whole bit little
quite rather very much many more most less least just simply truly certainly surely probably maybe perhaps
seems seem seemed feel feels feeling felt find finds found keeps keep kept makes make made take takes took
going goes gone come comes came time times moment moments experience experiences sure well good nice
film films movie movies book books album albums podcast podcasts episode episodes show shows story stories
title titles item items recommendation recommendations this that these those here there today next last first
long short fans loving liking enjoyable entertaining interesting engaging compelling memorable satisfying
fan runs run running lasts last lasting since unless although though whether upon onto within without across
along among around behind beside beyond despite inside outside toward towards throughout via per plus amid ever
yet already still even again another every each else instead rather whose whom
released release published premiered debuted dates dating poster posters cover artwork image images picture photo
audio intro introduction spoken transcript says said shows showed mentions mentioned describes described promises
tagline states stated according
stars star starred starring co-star co-stars co-starring featuring plays played portrays portrayed set setting located
place
""".split())
_CALENDAR = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
             "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
             "i", "ok", "tv"}
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
                 "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
                 "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
                 "dozen": 12}
# Card fields that hold each kind of count, and the unit words that point at them.
_UNIT_FIELDS = {
    "minutes": ("runtime", "duration", "length", "running time"),
    "hours": ("runtime", "duration", "length", "running time"),
    "pages": ("pages", "page count", "length"),
    "tracks": ("tracks", "track count", "songs"),
    "episode": ("episode", "episode number"),
    "year": ("year", "released", "release year", "published", "release date", "date"),
}
_UNIT_AFTER = re.compile(r"^[\s-]*(minutes?|mins?|hours?|hrs?|pages?|tracks?|songs?)\b", re.IGNORECASE)
_UNIT_BEFORE = re.compile(r"\b(episode|ep\.?|no\.|number|#)\s*$", re.IGNORECASE)
_RELEASE_BEFORE = re.compile(r"\b(?:released|release|came out|made|from|published|recorded|premiered|filmed|shot|"
                             r"dates|dating|debuted|launched|aired|appeared|out|year|issued|written)\b[\w\s]{0,9}$",
                             re.IGNORECASE)
_RELEASE_AFTER = re.compile(r"^\s*(?:film|movie|release|album|book|novel|episode|record|feature|documentary|"
                            r"thriller|drama|comedy|horror|production|debut|title|western|romance|mystery)\b",
                            re.IGNORECASE)
# digits with their decimals ("9.5" is one number, not two), a decade's "s", or a number word
_NUMBER = re.compile(r"(?<![\w.])(\d{1,4}(?:\.\d+)?)(s)?(?![\w.]\d)|\b(" + "|".join(_NUMBER_WORDS) + r")\b",
                     re.IGNORECASE)
_ROLES = {
    "director": (r"directed by|director|directorial|film by|filmmaker|from director", ("director", "directors")),
    "author": (r"written by|author|novel by|book by|writer|penned by", ("author", "authors", "writer")),
    "host": (r"hosted by|host|presented by|presenter|narrated by|narrator", ("host", "hosts", "presenter")),
    "artist": (r"performed by|recorded by|album by|music by|singer|artist|band", ("artist", "artists", "band")),
    "cast": (r"starring|stars|star|actor|actress|played by|cast|lead", ("cast", "starring", "actors", "stars")),
    "any": (r"by|from", ("director", "author", "host", "artist", "creator", "cast", "starring", "show")),
}
_TOKEN = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("’", "'")).strip()


def _contains(haystack: str, phrase: str) -> bool:
    """Whole-word, case-insensitive containment (haystack already normalised)."""
    p = _norm(phrase)
    return bool(p) and re.search(r"(?<![\w-])" + re.escape(p) + r"(?![\w])", haystack) is not None


_SUFFIXES = ("ingly", "ations", "ation", "ness", "ments", "ment", "ings", "ing", "edly", "ers", "ies", "ied",
             "ive", "ion", "ity", "ous", "ful", "ence", "ance", "ent", "ant", "ed", "es", "er", "ly", "al", "s",
             "y", "e")


def stem(word: str) -> str:
    """A light, deterministic suffix stripper (enough to match violent/violence, directed/director)."""
    w = word.lower().strip("'’")
    if w.endswith("ss"):  # glass, brass, mass: not plurals
        return w
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            return w[: -len(suffix)]
    return w


def _words(text: str) -> list[str]:
    return [w.lower().strip("'’-") for w in _TOKEN.findall(text)]


def content_terms(text: str) -> list[str]:
    """Words that carry checkable content: not stop words, not opinion or recommendation talk."""
    out = []
    for w in _words(text):
        if len(w) < 3 or w in STOPWORDS or w in GENERIC_WORDS or w in _CALENDAR:
            continue
        out.append(w)
    return out


class _Stems:
    """Stems of a text, matched exactly or by a shared prefix of at least five letters."""

    def __init__(self, text: str):
        self.stems = {stem(w) for w in _words(text) if len(w) >= 3}
        self.prefixes = {s[:5] for s in self.stems if len(s) >= 5}

    def has(self, word: str) -> bool:
        s = stem(word)
        return s in self.stems or (len(s) >= 5 and s[:5] in self.prefixes)


# --- the checker --------------------------------------------------------------------------------------------------

@dataclass
class _Pending:
    """A claim whose rules are done; the judge may still decide it."""

    verdict: ClaimVerdict
    subject: Subject
    needs_judge: bool = False


class ExplanationChecker:
    """Checks justifications against cards and histories; one instance per catalog."""

    def __init__(self, titles: dict[str, str], genre_vocabulary: Iterable[str] = (),
                 judge: "ClaimJudge | None" = None, config: AuditConfig | None = None):
        self.titles = dict(titles)
        self.config = config or AuditConfig()
        self.judge = judge if self.config.judge else None
        self.genres = set(_GENRES)
        self.ambiguous = set(_AMBIGUOUS_GENRES)
        for g in genre_vocabulary:
            g = _norm(g)
            if g and g not in self.genres:
                self.ambiguous.add(g)  # catalog-only genre words are trusted only in genre position
        self._title_patterns = self._compile_titles()
        # genre vocabulary, longest first so "folk horror" is taken before "horror"
        self._genre_patterns = [(term, re.compile(r"(?<![\w])" + re.escape(term) + r"(?![\w])"))
                                for term in sorted({*self.genres, *_GENRE_ALIASES, *self.ambiguous}, key=len,
                                                   reverse=True)]

    @classmethod
    def from_cards(cls, cards: dict[str, tuple[str, str]], judge: "ClaimJudge | None" = None,
                   config: AuditConfig | None = None) -> "ExplanationChecker":
        """Build from ``{item id: (title, card)}``: titles for mention checks, genres fields for the vocabulary."""
        vocabulary = set()
        for _, card in cards.values():
            for g in re.split(r"[,/|;]", card_fields(card).get("genres", "")):
                if g.strip():
                    vocabulary.add(g.strip())
        return cls({i: t for i, (t, _) in cards.items()}, vocabulary, judge, config)

    def _compile_titles(self) -> list[tuple[str, re.Pattern]]:
        """(item id, pattern) for every title, longest first; a leading article may be dropped ("Hollow Choir")."""
        out = []
        for item_id, title in self.titles.items():
            variants = title_variants(title)  # "Godfather, The" is written "The Godfather"
            for v in list(variants):
                m = re.match(r"(?:the|a|an)\s+(.+)$", v, re.IGNORECASE)
                if m and (len(m.group(1).split()) >= 2 or len(m.group(1)) >= 8):
                    variants.add(m.group(1))
            for v in variants:
                if len(v) >= 4:
                    out.append((item_id, v))
        out.sort(key=lambda p: -len(p[1]))
        return [(i, re.compile(r"(?<![\w])" + re.escape(v) + r"(?![\w])", re.IGNORECASE)) for i, v in out]

    # ---- public ----------------------------------------------------------------------------------------------
    def check(self, subject: Subject, justification: str, **meta) -> ExplanationVerdict:
        return self.check_many([(subject, justification, meta)])[0]

    def check_many(self, jobs: Sequence[tuple[Subject, str, dict]]) -> list[ExplanationVerdict]:
        """Check several justifications; the judge sees every open claim of the batch in one pass each."""
        verdicts, pending = [], []
        for subject, text, meta in jobs:
            verdict, claims = self._rules(subject, text, meta)
            verdicts.append(verdict)
            pending.extend(claims)
        open_claims = [p for p in pending if p.needs_judge]
        if open_claims and self.judge is not None:
            scores = self.judge.judge([(p.subject, p.verdict.text) for p in open_claims],
                                      batch_size=self.config.judge_batch_size)
            for p, score in zip(open_claims, scores):
                p.verdict.judge_p_supported = round(score.p_supported, 4)
                probabilities = (f"p(supported)={score.p_supported:.2f}, p(unsupported)={score.p_unsupported:.2f}, "
                                 f"p(contradicted)={score.p_contradicted:.2f}")
                if score.label is None:  # abstained: the overlap label stands
                    p.verdict.findings.append(Finding(check="judge", label=p.verdict.label,
                                                      message=f"LLM judge abstained ({probabilities})"))
                    continue
                p.verdict.label, p.verdict.method = score.label, "judge"
                p.verdict.findings.append(Finding(check="judge", label=score.label,
                                                  message=f"LLM judge: {probabilities}"))
        for verdict in verdicts:
            verdict.flags = _flags(verdict.claims)
        return verdicts

    # ---- rules -----------------------------------------------------------------------------------------------
    def _rules(self, subject: Subject, text: str, meta: dict) -> tuple[ExplanationVerdict, list[_Pending]]:
        card_norm = _norm(subject.card)
        fields = {k: v for k, v in card_fields(subject.card).items()}
        protected = [subject.title, *subject.history.values(), *fields.values()]
        lowered = text.lower()
        protected += [v for t in self.titles.values() for v in title_variants(t) if v.lower() in lowered]
        protected += re.findall(r"\b\w+ and \w+\b", subject.card)  # "hide and seek", "Dust and Psalms"
        verdict = ExplanationVerdict(item_id=subject.item_id, title=subject.title, justification=text,
                                     card=subject.card, user_id=meta.get("user_id"), query=subject.query,
                                     request_id=meta.get("request_id"), group=meta.get("group", ""),
                                     declared_evidence=list(meta.get("evidence", [])))
        pending = []
        cited: list[str] = [e.split(":", 1)[1] for e in verdict.declared_evidence if e.startswith("history:")]
        for claim in split_claims(text, [p for p in protected if len(p) <= 60]):
            findings: list[Finding] = []
            masked, mentioned = self._titles(claim.text, subject, findings)
            cited.extend(h for h in mentioned if h in subject.history)
            masked = self._numbers(masked, subject, fields, card_norm, findings)
            self._genres(masked, subject, fields, card_norm, findings)
            self._awards(masked, card_norm, findings)
            masked, names = self._names(masked, claim.text, subject, fields, card_norm, findings)
            cv = ClaimVerdict(text=claim.text, start=claim.start, end=claim.end, label="supported", method="rules",
                              findings=findings, evidence=_dedupe(e for f in findings for e in f.evidence))
            bad = [f for f in findings if f.label != "supported"]
            if bad:
                cv.label = "contradicted" if any(f.label == "contradicted" for f in bad) else "unsupported"
                verdict.claims.append(cv)
                continue
            terms = content_terms(masked)
            if not terms:
                if findings:
                    verdict.claims.append(cv)  # only rule-checked facts ("directed by Lena Marsh in 2019")
                else:
                    verdict.opinions.append(claim.text)
                continue
            share, grounded_in = self._overlap(terms, subject, claim.text, names)
            cv.evidence = _dedupe([*cv.evidence, *grounded_in])
            overlap = Finding(check="overlap", label="supported" if share >= self.config.support_overlap
                              else "unsupported",
                              message=f"{share:.0%} of the claim's content words are in the card or history",
                              evidence=grounded_in)
            cv.findings.append(overlap)
            cv.method = "rules" if findings and share >= self.config.support_overlap else "overlap"
            if share < self.config.support_overlap:
                cv.label = "unsupported"  # too little of it is in the card: unsupported unless the judge says so
                if self.judge is not None:
                    pending.append(_Pending(cv, subject, needs_judge=True))
            verdict.claims.append(cv)
        verdict.cited_history = _dedupe(h for h in cited if h in subject.history)
        return verdict, pending

    def _titles(self, claim: str, subject: Subject, findings: list[Finding]) -> tuple[str, list[str]]:
        """Check catalog titles the claim names; return the claim with them blanked out, and the ids named."""
        masked = claim
        named: list[str] = []
        for item_id, pattern in self._title_patterns:
            for m in pattern.finditer(masked):
                if item_id != subject.item_id and not (m.group()[0].isupper() or m.group()[0].isdigit()):
                    continue  # titles are written capitalised; "quiet rooms" in prose is not a mention
                masked = masked[:m.start()] + " " * (m.end() - m.start()) + masked[m.end():]
                if item_id in named:
                    continue
                named.append(item_id)
                title = self.titles[item_id]
                if item_id == subject.item_id or _contains(_norm(subject.title), title):
                    continue
                history_talk = _HISTORY_CUE.search(claim) is not None
                if item_id in subject.history:
                    findings.append(Finding(check="history", label="supported",
                                            message=f"names {title!r}, which is in the user's history",
                                            evidence=[f"history:{item_id} ({title})"]))
                    continue
                if history_talk:
                    findings.append(Finding(
                        check="history", label="unsupported",
                        message=f"speaks of the user and {title!r}, but that item is not in their history",
                        evidence=[f"history: {', '.join(subject.history.values()) or '(none)'}"]))
                candidates = subject.candidates if subject.candidates is not None else set()
                if item_id not in candidates:
                    findings.append(Finding(
                        check="non-candidate", label="unsupported",
                        message=f"names {title!r} ({item_id}), which was not among the candidates"
                                + ("" if subject.candidates is not None else " (item and history only)")))
                elif not history_talk:
                    findings.append(Finding(check="title", label="supported",
                                            message=f"names another candidate, {title!r}"))
        if subject.title and re.search(re.escape(subject.title), masked, re.IGNORECASE):
            masked = re.sub(re.escape(subject.title), lambda m: " " * len(m.group()), masked, flags=re.IGNORECASE)
        return masked, named

    def _numbers(self, claim: str, subject: Subject, fields: dict[str, str], card_norm: str,
                 findings: list[Finding]) -> str:
        """Check years and counts; return the claim with each checked number (and its unit) blanked out."""
        card_values = _numbers_in(card_norm)
        # "you loved episodes 11 and 13": numbers in a claim about the user may come from their history's cards
        history_values = (_numbers_in(_norm(" ".join(subject.history_cards.values())))
                          if _HISTORY_CUE.search(claim) else set())
        blanks: list[tuple[int, int]] = []
        for m in _NUMBER.finditer(claim):
            digits, decade, word = m.group(1), m.group(2), m.group(3)
            if _NEGATION.search(claim[:m.start()]) and not digits:
                continue
            u = _UNIT_AFTER.match(claim[m.end():])
            blanks.append((m.start(), m.end() + (u.end() if u else 0)))
            value = _number(digits) if digits else _NUMBER_WORDS[word.lower()]
            raw = m.group()
            before, after = claim[:m.start()], claim[m.end():]
            if digits and decade and len(digits) == 2 and value % 10 == 0:
                # "the 90s" is the 1990s; "the 10s" the 2010s when the card has a year there, else the 1910s
                century = 2000 if any(2000 + value <= v < 2010 + value for v in card_values) else 1900
                self._year(century + value, True, before, after, fields, card_values, findings)
                continue
            if digits and len(digits) == 4 and 1800 <= value <= 2099:
                self._year(value, bool(decade), before, after, fields, card_values, findings)
                continue
            unit = None
            if u:
                unit = {"m": "minutes", "h": "hours", "p": "pages", "t": "tracks", "s": "tracks"}[u.group(1)[0].lower()]
            elif _UNIT_BEFORE.search(before):
                unit = "episode"
            field_values = {name: fields[name] for name in _UNIT_FIELDS.get(unit, ()) if name in fields}
            if field_values:
                field_numbers = {n for v in field_values.values() for n in _numbers_in(_norm(v))}
                want = {value * 60} if unit == "hours" else {value}
                ok = any(abs(n - w) <= (30 if unit == "hours" else 0) for n in field_numbers for w in want)
                # the same count with the same unit in the card's text ("shifted their lives forty minutes a day")
                ok = ok or re.search(r"(?<!\w)" + re.escape(raw.lower()) + r"[\s-]*" + u.group(1)[:3].lower(),
                                     card_norm) is not None if u else ok
                ev = [f"card:{k} = {v}" for k, v in field_values.items()]
                if ok:
                    findings.append(Finding(check="number", label="supported", message=f"{raw} {unit} matches the "
                                            "card", evidence=ev))
                else:
                    findings.append(Finding(check="number", label="contradicted",
                                            message=f"says {raw} {unit}, the card says otherwise", evidence=ev))
                continue
            if value in card_values:
                findings.append(Finding(check="number", label="supported", message=f"{raw} is in the card",
                                        evidence=_fields_with(fields, str(value), word)))
            elif value in history_values:
                findings.append(Finding(check="number", label="supported",
                                        message=f"{raw} is in the cards of the user's history"))
            else:
                findings.append(Finding(check="number", label="unsupported",
                                        message=f"the number {raw} appears nowhere in the card"))
        for start, end in blanks:
            claim = claim[:start] + " " * (end - start) + claim[end:]
        return claim

    def _year(self, year: int, decade: bool, before: str, after: str, fields: dict[str, str],
              card_values: set[int], findings: list[Finding]) -> None:
        year_fields = {k: fields[k] for k in _UNIT_FIELDS["year"] if k in fields}
        ev = [f"card:{k} = {v}" for k, v in year_fields.items()]
        if decade:
            if any(year <= v < year + 10 for v in card_values):
                findings.append(Finding(check="year", label="supported", message=f"the {year}s match the card"))
            else:
                findings.append(Finding(check="year", label="unsupported", evidence=ev,
                                        message=f"nothing in the card is from the {year}s"))
            return
        release = (_RELEASE_BEFORE.search(before) is not None or _RELEASE_AFTER.match(after) is not None
                   or (before.rstrip().endswith("(") and after.lstrip().startswith(")")))
        field_years = {n for v in year_fields.values() for n in _numbers_in(v)}
        if release and field_years:
            if year in field_years:
                findings.append(Finding(check="year", label="supported", message=f"{year} is the card's year",
                                        evidence=ev))
            else:
                findings.append(Finding(check="year", label="contradicted", evidence=ev,
                                        message=f"gives {year} as its year; the card says "
                                                f"{', '.join(str(y) for y in sorted(field_years))}"))
        elif year in card_values:
            findings.append(Finding(check="year", label="supported", message=f"{year} is in the card",
                                    evidence=_fields_with(fields, str(year))))
        elif field_years:
            findings.append(Finding(check="year", label="contradicted", evidence=ev,
                                    message=f"mentions {year}; the card's year is "
                                            f"{', '.join(str(y) for y in sorted(field_years))}"))
        else:
            findings.append(Finding(check="year", label="unsupported", message=f"{year} appears nowhere in the card"))

    def _names(self, masked: str, original: str, subject: Subject, fields: dict[str, str], card_norm: str,
               findings: list[Finding]) -> tuple[str, int]:
        """Check capitalised spans (people, titles, places); return the text with verified names blanked, and how
        many the card or history backs (grounded words of the claim, like any other)."""
        backing = " \n ".join([card_norm, *(_norm(t) for t in subject.history.values())])
        # the request backs what a claim says about the request ("you asked for Al Pacino"), never about the item
        known = backing + " \n " + _norm(subject.query) if REQUEST_CUE.search(original) else backing
        genres = _norm(fields.get("genres") or fields.get("genre") or "")
        tokens = list(_TOKEN.finditer(masked))
        spans: list[list[re.Match]] = []
        for t in tokens:
            word = t.group()
            if not word[0].isupper():
                continue
            if spans and masked[spans[-1][-1].end():t.start()] in (" ", "-", " - "):
                spans[-1].append(t)
            else:
                spans.append([t])
        first = tokens[0].start() if tokens else 0
        out, verified = masked, 0
        for span in spans:
            words = [t.group().rstrip("'’").removesuffix("'s").removesuffix("’s") for t in span]
            if span[0].start() == first:
                if len(span) == 1 and not _name_like(span[0].group(), masked[span[0].end():]):
                    continue  # sentence case ("Gentle bedtime piano"), not a name ("Tarantino's Heat")
                while words and (words[0].lower() in STOPWORDS or words[0].lower() in GENERIC_WORDS
                                 or words[0].lower() in _CLAUSE_START):
                    words = words[1:]
            while words and words[0].lower() in ("the", "a", "an"):
                words = words[1:]
            words = [w for w in words if w.lower() not in _CALENDAR]
            if not words:
                continue
            name = " ".join(words)
            start, end = span[0].start(), span[-1].end()
            if (_contains(known, name) or _genre_phrase(name) or _award_phrase(name)
                    or all(_genre_phrase(w) or _contains(genres, w) for w in words)):
                # known, or genre/award words ("an Action Crime Thriller") the genre and award checks have judged
                out = out[:start] + " " * (end - start) + out[end:]
                verified += int(_contains(backing, name))
                if _contains(card_norm, name):
                    findings.append(Finding(check="name", label="supported", message=f"{name!r} is in the card",
                                            evidence=_fields_with(fields, name)))
                continue
            role = _role_before(masked[:start], masked[end:])
            role_fields = {k: fields[k] for k in _ROLES[role][1] if fields.get(k)} if role else {}
            if role_fields:
                findings.append(Finding(check="name", label="contradicted",
                                        message=f"names {name!r} in a role the card gives to someone else",
                                        evidence=[f"card:{k} = {v}" for k, v in role_fields.items()]))
            else:
                findings.append(Finding(check="name", label="unsupported",
                                        message=f"{name!r} appears nowhere in the card, the history or the request"))
            out = out[:start] + " " * (end - start) + out[end:]
        return out, verified

    def _genres(self, claim: str, subject: Subject, fields: dict[str, str], card_norm: str,
                findings: list[Finding]) -> None:
        if "genres" not in fields and "genre" not in fields:
            return
        genres_value = fields.get("genres") or fields.get("genre") or ""
        card_genres = _normalise_genres(genres_value) + " | " + _normalise_genres(card_norm)
        history_genres = _normalise_genres(" ".join(card_fields(c).get("genres", "")
                                                    for c in subject.history_cards.values()))
        talk_of_user = _HISTORY_CUE.search(claim) is not None
        low = _norm(claim)
        seen = set()
        for term, start, end in self._genre_terms(low):
            canonical = _GENRE_ALIASES.get(term, term)
            if canonical in seen or _NEGATION.search(low[:start]):
                continue
            seen.add(canonical)
            parts = canonical.split() if canonical == "romance comedy" else [canonical]
            if all(_contains(card_genres, p) for p in parts):
                findings.append(Finding(check="genre", label="supported", message=f"{term!r} matches the card",
                                        evidence=[f"card:genres = {genres_value}"]))
            elif talk_of_user and all(_contains(history_genres, p) for p in parts):
                findings.append(Finding(check="genre", label="supported",
                                        message=f"{term!r} describes the user's history"))
            else:
                findings.append(Finding(check="genre", label="contradicted",
                                        message=f"calls it {term!r}; the card's genres are {genres_value!r}",
                                        evidence=[f"card:genres = {genres_value}"]))

    def _genre_terms(self, low: str) -> list[tuple[str, int, int]]:
        """Genre terms in a normalised claim: unambiguous genre words anywhere, ambiguous ones in genre position."""
        out, taken = [], [False] * len(low)
        for term, pattern in self._genre_patterns:
            if term not in low:
                continue
            for m in pattern.finditer(low):
                if any(taken[m.start():m.end()]):
                    continue
                canonical = _GENRE_ALIASES.get(term, term)
                if term in self.ambiguous or canonical in self.ambiguous:
                    nxt = re.match(r"[\s-]+([\w-]+)", low[m.end():])
                    prev = re.search(r"genres?:?\s+(?:of\s+)?$", low[:m.start()])
                    if not (nxt and nxt.group(1) in _KIND_NOUNS) and not prev:
                        continue
                for i in range(m.start(), m.end()):
                    taken[i] = True
                out.append((term, m.start(), m.end()))
        return sorted(out, key=lambda t: t[1])

    def _awards(self, claim: str, card_norm: str, findings: list[Finding]) -> None:
        low = _norm(claim)
        reported = False
        for term in _AWARDS:
            for m in re.finditer(r"(?<![\w])" + re.escape(term) + r"(?![\w])", low):
                if _NEGATION.search(low[:m.start()]):
                    continue
                if _contains(card_norm, term) or _contains(card_norm, term.split("-")[0]):
                    findings.append(Finding(check="award", label="supported", message=f"{term!r} is in the card"))
                elif not reported:
                    findings.append(Finding(check="award", label="unsupported",
                                            message=f"claims an honour ({term!r}) the card does not mention"))
                    reported = True
                break

    def _overlap(self, terms: list[str], subject: Subject, claim: str, names: int = 0) -> tuple[float, list[str]]:
        """Share of content words found in the card (or history, when the claim talks about the user); ``names``
        verified names count as found words ("Heat stars Al Pacino")."""
        card = _Stems(subject.card)
        fields = card_fields(subject.card)
        field_stems = {name: _Stems(value) for name, value in fields.items()}
        history_text = " ".join(subject.history.values())
        if _HISTORY_CUE.search(claim):
            history_text += " " + " ".join(subject.history_cards.values())
        history = _Stems(history_text)
        grounded, evidence = 0, []
        for t in terms:
            if card.has(t):
                grounded += 1
                evidence.extend(f"card:{name}" for name, s in field_stems.items() if s.has(t))
            elif history.has(t):
                grounded += 1
                evidence.append("history")
        return (grounded + names) / (len(terms) + names), _dedupe(evidence)


_CLAUSE_START = {"directed", "written", "hosted", "produced", "recorded", "released", "published", "starring",
                 "featuring", "unlike", "since", "because", "while", "although", "though", "fans", "lovers",
                 "perfect", "ideal", "great", "set", "based", "told", "made", "from", "with", "without", "if",
                 "when", "where", "after", "before", "as", "like", "its", "it's", "here", "there", "this", "that",
                 "both", "each", "every", "all", "anyone", "someone", "readers", "listeners", "viewers", "plus",
                 "also", "and", "but", "or", "so", "yet", "for", "by", "in", "on", "at", "to", "of", "then", "now",
                 "just", "only", "even", "still", "more", "most", "another", "other", "one", "some", "any", "no",
                 "host", "director", "author", "artist", "writer", "narrator", "presenter", "actor", "actress",
                 "band", "singer", "filmmaker", "novelist", "given", "after", "thanks", "winner"}
# Words that open a sentence capitalised without being names ("Set in...", "Two friends...", "Dark and tense...").
_ORDINARY = STOPWORDS | GENERIC_WORDS | _CLAUSE_START | _KIND_NOUNS | _CALENDAR | set(_NUMBER_WORDS) | set("""
dark slow quiet tense sharp warm bleak grim sweet smart wild bold lush light bright cold cool soft hard tight fast
slick rich deep pure true real odd strange weird sad expect think imagine picture meet join pair grab try dive step
otherwise nevertheless altogether
""".split())
# Endings of ordinary English words. Names with them ("Hanks", "Fincher") are still caught when possessive or when a
# people verb follows ("Hanks shines"); without them "However", "Follows" or "Pensioners" would read as names.
_ENGLISH_ENDINGS = ("s", "ing", "ed", "ly", "y", "ous", "ful", "ive", "al", "ic", "able", "ible", "less", "est", "ish",
                    "le", "ness", "ment", "tion", "ity", "er")
_PEOPLE_VERB = re.compile(r"\s+(?:stars|starred|co-stars|directs|directed|plays|played|writes|wrote|hosts|hosted|"
                          r"narrates|narrated|sings|sang|performs|performed|leads|headlines|returns|reunites|shines|"
                          r"is|was|has|gives|brings|delivers)\b", re.IGNORECASE)


def _name_like(word: str, after: str) -> bool:
    """Whether a capitalised word opening a sentence is a name, not sentence case: a possessive ("Tarantino's"),
    followed by what people do ("Pacino stars"), or shaped like no ordinary word (there is no dictionary here: not in
    the word lists above, no common English ending, not hyphenated, longer than three letters)."""
    base = word.rstrip("'’").removesuffix("'s").removesuffix("’s")
    if base.lower() in _ORDINARY:
        return False
    if base != word.rstrip("'’") or _PEOPLE_VERB.match(after):
        return True
    low = base.lower()
    return len(low) > 3 and "-" not in low and not low.endswith(_ENGLISH_ENDINGS)


def _award_phrase(text: str) -> bool:
    t = _norm(text)
    return any(_contains(t, term) for term in _AWARDS)


def _genre_phrase(text: str) -> bool:
    t = _norm(text)
    return t in _GENRES or t in _AMBIGUOUS_GENRES or t in _GENRE_ALIASES


def _normalise_genres(text: str) -> str:
    out = _norm(text)
    for alias, canonical in sorted(_GENRE_ALIASES.items(), key=lambda a: -len(a[0])):
        out = re.sub(r"(?<![\w-])" + re.escape(alias) + r"(?![\w-])", canonical, out)
    return out


def _role_before(before: str, after: str) -> str | None:
    """The role a name is given by the words around it ("directed by X", "X's film"), if any."""
    tail = before[-40:].lower()
    for role, (pattern, _) in _ROLES.items():
        if re.search(r"\b(?:" + pattern + r")\s*(?:is\s+|was\s+|of\s+)?$", tail):
            return role
    if re.match(r"^(?:'s|’s)\s+(?:\w+\s+){0,3}?(?:film|movie|direction|novel|book|album|podcast|show|record)\b",
                after.lower()):
        return "any"
    return None


def _number(digits: str) -> float:
    return float(digits) if "." in digits else int(digits)


def _numbers_in(text: str) -> set[float]:
    values = {_number(n) for n in re.findall(r"\d+(?:\.\d+)?", text)}
    for word, v in _NUMBER_WORDS.items():
        if re.search(r"\b" + word + r"\b", text.lower()):
            values.add(v)
    return values


def _fields_with(fields: dict[str, str], needle: str, alt: str | None = None) -> list[str]:
    out = []
    for name, value in fields.items():
        low = _norm(value)
        if _contains(low, needle) or (alt and _contains(low, alt)):
            out.append(f"card:{name} = {_clip(value)}")
    return out


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _flags(claims: list[ClaimVerdict]) -> Flags:
    findings = [f for c in claims for f in c.findings]
    return Flags(
        hallucination=any(c.label != "supported" for c in claims),
        non_candidate_mention=any(f.check == "non-candidate" for f in findings),
        wrong_year_or_number=any(f.check in ("year", "number") and f.label != "supported" for f in findings),
        invented_person_or_title=any(f.check == "name" and f.label != "supported" for f in findings),
        unseen_history=any(f.check == "history" and f.label != "supported" for f in findings),
    )
