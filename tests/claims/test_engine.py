"""The claim engine's verdicts name what backs each claim (which card field, which media text line, which history
item, the request), and the engine itself stays one acyclic package whose vocabulary is data."""

from __future__ import annotations

import ast
import re
from importlib import resources
from pathlib import Path

from llmrec.claims import Catalog, ClaimChecker, Grounds
from llmrec.claims.vocabulary import ordered, table

ROOT = Path(__file__).resolve().parents[2]
CARD = """Title: The Quiet Orbit
Kind: film
Year: 2019
Director: Lena Marsh
Genres: Science fiction, Drama
Description: A maintenance engineer alone on a relay station receives letters from a ship.
Image 1: text in image: "SOMEONE IS STILL WRITING BACK";
Audio 1: transcript: "Welcome aboard the relay, where the volcanoes of Io glow all night.";"""
HOLLOW = "Title: The Hollow Choir\nYear: 2018\nGenres: Horror, Supernatural\nDescription: A village choir."
CHECKER = ClaimChecker(Catalog.from_cards({"a": ("The Quiet Orbit", CARD), "c": ("The Hollow Choir", HOLLOW)}))


def grounds(query: str = "", history=()) -> Grounds:
    return Grounds(item_id="a", title="The Quiet Orbit", card=CARD, history={h: "The Hollow Choir" for h in history},
                   history_cards={h: HOLLOW for h in history}, candidates={"a"}, query=query)


def sources(text: str, g: Grounds | None = None) -> set[tuple[str, str]]:
    return {(s.kind, s.key) for s in CHECKER.check(g or grounds(), text).sources()}


def test_each_supported_claim_names_the_card_fields_that_back_it():
    assert {("card", "director"), ("card", "year")} <= sources("Directed by Lena Marsh in 2019.")


def test_a_fact_read_off_the_poster_or_the_soundtrack_is_sourced_to_its_media_line():
    verdict = CHECKER.check(grounds(), "The spoken intro mentions the volcanoes of Io.")
    assert verdict.grounded
    found = verdict.sources()
    assert ("card", "audio 1") in {(s.kind, s.key) for s in found}
    assert any(s.media and "volcanoes" in s.matched for s in found)


def test_a_history_item_named_is_a_source_and_is_listed_as_named_history():
    text = "Because you loved The Hollow Choir, try this science fiction drama."
    verdict = CHECKER.check(grounds(history=["c"]), text)
    assert verdict.named_history == ["c"] and ("history", "c") in {(s.kind, s.key) for s in verdict.sources()}


def test_the_request_backs_only_what_is_said_about_the_request():
    asked = grounds(query="something with volcanoes under 2 hours")
    about_request = CHECKER.check(asked, "You asked for volcanoes under 2 hours, and it has them.")
    assert about_request.grounded and ("request", "") in {(s.kind, s.key) for s in about_request.sources()}
    about_item = CHECKER.check(asked, "A relay station drama that lasts under 2 hours.")
    assert not about_item.grounded  # the 2 is the request's, not the card's


def test_every_claim_verdict_names_the_rule_that_decided_it():
    verdict = CHECKER.check(grounds(), "Directed by Cole Varga. A story of pirates and buried treasure.")
    assert [(c.label, c.rule) for c in verdict.claims] == [("contradicted", "name"), ("unsupported", "overlap")]


def test_grounds_for_another_item_check_the_same_claim_against_its_card():
    """How many candidates a fact holds for: the same claim, checked as if said of each of them."""
    claim = "A supernatural horror about a choir."
    assert not CHECKER.check(grounds(), claim).grounded
    assert CHECKER.check(grounds().for_item("c", "The Hollow Choir", HOLLOW), claim).grounded


# --- the package ----------------------------------------------------------------------------------------------------

PACKAGES = ["llmrec/claims", "llmrec/audit", "llmrec/explain"]


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``path`` imports at module level (``if TYPE_CHECKING:`` blocks included)."""
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    body = [n for n in tree.body]
    body += [m for n in tree.body if isinstance(n, ast.If) for m in n.body]
    for node in body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n in known}
    return found


def test_no_two_modules_of_the_engine_the_audit_or_the_explainer_import_each_other():
    modules = _modules()
    graph = {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo += graph.get(m, set())
        return seen

    cycles = {m for m in graph if m in reach(m)}
    assert cycles == set()


def test_no_module_of_the_engine_the_audit_or_the_explainer_is_over_400_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def _vocabulary_names_used() -> set[str]:
    pattern = re.compile(r"""\b(?:words|ordered|table)\(\s*["']([a-z_]+)["']\s*\)""")
    return {name for path in (ROOT / "llmrec/claims").rglob("*.py")
            for name in pattern.findall(path.read_text(encoding="utf-8"))}


def test_every_word_list_the_rules_use_is_a_data_file_shipped_in_the_package_and_every_file_is_used():
    data = resources.files("llmrec.claims").joinpath("data")
    files = {Path(f.name).stem for f in data.iterdir() if f.name.endswith((".txt", ".json"))}
    used = _vocabulary_names_used()
    assert used and used == files
    for name in files:
        assert (table(name) if data.joinpath(f"{name}.json").is_file() else ordered(name)), name


def test_saying_the_user_enjoyed_the_item_itself_is_an_unsupported_history_claim():
    text = "The Quiet Orbit is a 2019 drama, like The Quiet Orbit, which you enjoyed."
    verdict = CHECKER.check(grounds(), text)
    assert not verdict.grounded
    flagged = [f for c in verdict.claims for f in c.findings if f.label != "supported"]
    assert [(f.check, f.about) for f in flagged] == [("history", "The Quiet Orbit")]


def test_the_item_itself_may_be_recommended_in_the_future_tense_or_when_the_user_really_saw_it():
    assert CHECKER.check(grounds(), "You will enjoy The Quiet Orbit, a 2019 drama.").grounded
    seen = Grounds(item_id="a", title="The Quiet Orbit", card=CARD, history={"a": "The Quiet Orbit"},
                   history_cards={"a": CARD}, candidates={"a"})
    assert CHECKER.check(seen, "You watched The Quiet Orbit, a 2019 drama.").grounded


def test_enjoying_a_history_item_beside_the_item_itself_is_no_claim_that_the_user_saw_the_item():
    assert CHECKER.check(grounds(history=["c"]), "You enjoyed The Hollow Choir and The Quiet Orbit is a 2019 drama."
                         ).grounded
