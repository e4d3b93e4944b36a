"""The justifier and the audit agree: a sentence the justifier would show is never flagged by the audit, and a
sentence the audit flags is refused by the justifier under the same rule. Where they differ, only the justifier's own
policy (too short, another candidate named, nothing cited, too little backed) refused a sentence the audit passes.

Cases: the sentences of the audit's and the justifier's rule tests, and every explanation of the labelled set."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from llmrec.audit.checks import ExplanationChecker
from llmrec.audit.labelled_set import demo_grounds, load_examples
from llmrec.claims import Grounds
from llmrec.config import AuditConfig, JustificationConfig
from llmrec.explain.acceptance import POLICY_RULES, JustificationChecks
from llmrec.explain.justifier import Justifier, opening
from llmrec.prompts import default_library, plain_chat
from llmrec.workspace import StoredItem

NO_JUDGE = AuditConfig(judge=False)
CHECKS = JustificationChecks(JustificationConfig(), NO_JUDGE)

HEAT = "Title: Heat\nYear: 1995\nGenres: Action, Crime, Thriller\nDirector: Michael Mann\nRuntime: 170 minutes"
MOVIES = {
    "m1": ("Heat", HEAT + "\nCast: Al Pacino, Robert De Niro\nDescription: A master thief and a detective clash in "
                          "Los Angeles.\nIMDb rating: 8.3"),
    "m2": ("Godfather, The", "Title: Godfather, The\nYear: 1972\nGenres: Crime, Drama"),
    "m3": ("The Matrix", "Title: The Matrix\nYear: 1999\nGenres: Action, Sci-Fi"),
    "m4": ("12 Angry Men", "Title: 12 Angry Men\nYear: 1957\nGenres: Drama"),
    "m5": ("Up", "Title: Up\nYear: 2009\nGenres: Animation"),
    "m6": ("Speed", "Title: Speed\nYear: 1994\nGenres: Action"),
}
ORBIT = {
    "film-a": ("The Quiet Orbit", "Title: The Quiet Orbit\nKind: film\nYear: 2019\nDirector: Lena Marsh\n"
                                  "Genres: Science fiction, Drama\nRuntime: 128 min\nDescription: A maintenance "
                                  "engineer alone on a relay station receives letters from a ship that left a century "
                                  "ago.\nContent advice: No violence.\n"
                                  'Image 1: text in image: "SOMEONE IS STILL WRITING BACK";\n'
                                  'Audio 1: transcript: "Welcome aboard the relay, where the volcanoes of Io glow all '
                                  'night.";'),
    "film-b": ("Iron Meridian", "Title: Iron Meridian\nKind: film\nYear: 2021\nDirector: Cole Varga\n"
                                "Genres: Science fiction, Action"),
    "film-c": ("The Hollow Choir", "Title: The Hollow Choir\nKind: film\nYear: 2018\nDirector: Marek Novak\n"
                                   "Genres: Horror, Supernatural"),
    "film-d": ("Saltmarsh", "Title: Saltmarsh\nKind: film\nYear: 2015\nDirector: Eamon Flynn\n"
                            "Genres: Horror, Folk horror"),
}
# (catalog, item, history, candidates, query, text)
RULE_CASES = [
    (MOVIES, "m1", (), ("m1",), "", "Heat is a 1995 crime thriller by Michael Mann that runs 170 minutes."),
    (MOVIES, "m1", (), ("m1",), "", "Heat is a 95 minute crime thriller from director Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "", "Heat is a tense crime thriller from director Michael Mann that runs 2 hours."),
    (MOVIES, "m1", (), ("m1",), "", "Heat is a tense crime thriller from director Michael Mann, rated 9.5 by critics."),
    (MOVIES, "m1", (), ("m1",), "", "Heat holds an 8.3 IMDb rating."),
    (MOVIES, "m1", (), ("m1",), "", "Heat is a 1980s crime thriller by Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "", "Heat is a 90s crime thriller by Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "a heist thriller with al pacino and val kilmer",
     "Heat stars Pacino and Kilmer in a heist thriller."),
    (MOVIES, "m1", (), ("m1",), "a heist under 3 hours",
     "You asked for a heist under 3 hours, and Heat is a crime thriller by Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "a heist thriller with Al Pacino",
     "You asked for Al Pacino, and Heat is a crime thriller by Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "a heist thriller with Al Pacino",
     "Heat is a crime thriller by Michael Mann starring Al Pacino."),
    (MOVIES, "m1", (), ("m1",), "", "Like The Matrix, Heat is a crime thriller by Michael Mann."),
    (MOVIES, "m1", (), ("m1", "m3"), "", "Like The Matrix, Heat is a crime thriller by Michael Mann."),
    (MOVIES, "m1", ("m2",), ("m1",), "", "Like The Godfather, Heat is a crime thriller by Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "", "Heat is a crime thriller by Michael Mann, a bit like 12 Angry Men."),
    (MOVIES, "m1", (), ("m1", "m5"), "", "Like Up, Heat is a crime thriller by Michael Mann."),
    (MOVIES, "m1", (), ("m1", "m5"), "", "Heat is a crime thriller by Michael Mann that picks up the pace."),
    (MOVIES, "m1", (), ("m1",), "", "Speed and love: Heat is a crime thriller by Michael Mann that picks up the pace."),
    (MOVIES, "m1", (), ("m1",), "", "Heat stars Al Pacino and Robert De Niro."),
    (MOVIES, "m1", (), ("m1",), "", "Heat stars Tom Hanks."),
    (MOVIES, "m1", (), ("m1",), "", "Tarantino's Heat is a crime thriller from 1995."),
    (MOVIES, "m1", (), ("m1",), "", "Heat is an Action Crime Thriller by Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "", "Heat is a Horror Comedy film by Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "", "Heat is a 1995 horror film by Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "", "An Oscar-winning 1995 crime thriller by Michael Mann."),
    (MOVIES, "m1", (), ("m1",), "", "A great pick for tonight!"),
    (ORBIT, "film-a", (), None, "", "The Quiet Orbit is a patient, contemplative science-fiction drama from Lena "
                                    "Marsh, released in 2019; it runs 128 minutes and has no violence."),
    (ORBIT, "film-a", (), None, "", "Released in 2009, it is a patient film about a relay station."),
    (ORBIT, "film-a", (), None, "", "It runs 95 minutes. Three engineers share the relay station."),
    (ORBIT, "film-a", (), None, "", "A patient film directed by Cole Varga."),
    (ORBIT, "film-a", (), None, "", "Not a horror film: a patient drama about a relay station."),
    (ORBIT, "film-a", (), ("film-a", "film-b"), "", "A patient film, calmer than Iron Meridian."),
    (ORBIT, "film-a", (), ("film-a", "film-b"), "", "A patient film, as tense as Saltmarsh."),
    (ORBIT, "film-a", ("film-c",), None, "", "Because you loved The Hollow Choir, try this patient film."),
    (ORBIT, "film-a", ("film-c",), None, "", "Because you loved Saltmarsh, try this patient film."),
    (ORBIT, "film-a", (), None, "", "Its poster says someone is still writing back, and the spoken intro mentions "
                                    "the volcanoes of Io."),
    (ORBIT, "film-a", (), None, "", "A rousing story of pirates and buried treasure."),
]


def grounds_of(cards, item, history=(), candidates=None, query="") -> Grounds:
    return Grounds(item_id=item, title=cards[item][0], card=cards[item][1], history={h: cards[h][0] for h in history},
                   history_cards={h: cards[h][1] for h in history},
                   candidates=set(candidates) if candidates is not None else None, query=query)


def disagreement(checker: ExplanationChecker, grounds: Grounds, text: str) -> str | None:
    """Why the justifier and the audit disagree on ``text`` (None: they agree)."""
    audit = checker.check(grounds, text)
    _, refusals = CHECKS.problems(text, grounds, checker.catalog)
    flagged = {f.check for c in audit.claims for f in c.findings if f.label != "supported"}
    refused = {p.rule for p in refusals}
    if audit.flags.hallucination and not flagged <= refused:
        return f"the audit flags {sorted(flagged)}, the justifier refuses for {sorted(refused)}"
    if not audit.flags.hallucination and not refused <= set(POLICY_RULES):
        return f"the audit passes it, the justifier refuses it for {sorted(refused - set(POLICY_RULES))}"
    return None


@pytest.mark.parametrize("cards, item, history, candidates, query, text", RULE_CASES,
                         ids=[c[-1][:40] for c in RULE_CASES])
def test_the_justifier_refuses_what_the_audit_flags_and_shows_only_what_it_passes(cards, item, history, candidates,
                                                                                   query, text):
    checker = ExplanationChecker.from_cards(cards, config=NO_JUDGE)
    assert disagreement(checker, grounds_of(cards, item, history, candidates, query), text) is None


def test_claims_the_audit_flags_are_refused_for_the_same_rule():
    checker = ExplanationChecker.from_cards(MOVIES, config=NO_JUDGE)
    heat = grounds_of(MOVIES, "m1", candidates=("m1",))
    for text, rule in [("Heat is a 1995 horror film by Michael Mann.", "genre"),
                       ("An Oscar-winning 1995 crime thriller by Michael Mann.", "award"),
                       ("Heat is a crime thriller from director Quentin Tarantino.", "name"),
                       ("Heat is a crime thriller from 1999 by Michael Mann.", "year")]:
        audit = checker.check(heat, text)
        _, refusals = CHECKS.problems(text, heat, checker.catalog)
        assert audit.flags.hallucination and {f.check for c in audit.claims for f in c.findings
                                              if f.label != "supported"} == {rule}
        assert rule in {p.rule for p in refusals}, text


@pytest.fixture(scope="module")
def labelled():
    examples = load_examples()
    with tempfile.TemporaryDirectory() as tmp:
        cards, grounds = demo_grounds(examples, Path(tmp))
    return examples, cards, grounds


def test_on_the_labelled_set_the_justifier_and_the_audit_agree_on_every_explanation(labelled):
    examples, cards, grounds = labelled
    checker = ExplanationChecker.from_cards(cards, config=NO_JUDGE)
    found = {ex.id: disagreement(checker, g, ex.explanation) for ex, g in zip(examples, grounds)}
    assert {i: why for i, why in found.items() if why} == {}
    refused = [ex for ex, g in zip(examples, grounds) if CHECKS.problems(ex.explanation, g, checker.catalog)[1]]
    assert {ex.id for ex in examples if ex.label == "false"} <= {ex.id for ex in refused}  # every planted error


class _Scripted:
    """Stands in for the LLM only: continues the JSON string the frame opened with the item's title, so the shown
    sentence is the labelled one when it starts with the title, else "<title>: <labelled sentence>" (the checks and
    the fallback are the real ones)."""

    chat = staticmethod(plain_chat)

    def __init__(self, sentence: str):
        self.sentence = sentence.replace("\\", "\\\\").replace('"', '\\"')

    def complete(self, prompts, max_new_tokens, stop, seed=None):
        out = []
        for prompt in prompts:
            opened = opening(prompt)
            out.append(self.sentence[len(opened):] if self.sentence.startswith(opened) else ": " + self.sentence)
        return out


def test_no_justification_the_justifier_shows_is_flagged_by_the_audit(labelled):
    examples, cards, grounds = labelled
    checker = ExplanationChecker.from_cards(cards, config=NO_JUDGE)
    items = {i: StoredItem(id=i, title=t, item=None, card=c, card_hash="", embedded_hash=None, media=[])
             for i, (t, c) in cards.items()}
    shown = 0
    for ex, g in zip(examples, grounds):
        item = items[ex.item_id]
        history = [items[h] for h in g.history]
        candidates = [items[c] for c in sorted(g.candidates or {ex.item_id})]
        justifier = Justifier(_Scripted(ex.explanation), default_library(), JustificationConfig(enabled=True, retries=0), NO_JUDGE)
        [result] = justifier.justify("", [item], candidates, history, catalog=checker.catalog)
        audit = checker.check(g, result.justification, evidence=result.evidence)
        assert not audit.flags.hallucination, (ex.id, result.justification, result.problems)
        shown += result.generated
        if ex.label == "false":
            assert not result.generated and result.problems, ex.id  # a planted error is never shown
    assert shown >= 30  # most true explanations pass the justifier as written
