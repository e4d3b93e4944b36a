"""Finding the titles a claim names: the variant index finds exactly what testing every variant finds, longest
first, in a catalog and in the per-request copies that add the held items."""

from __future__ import annotations

import random

from llmrec.claims.catalog import Catalog

TITLES = {"1": "Up", "2": "It", "3": "Heat", "4": "Heat 2", "5": "Godfather, The", "6": "Alien", "7": "Aliens",
          "8": "The Hollow Choir", "9": "Amélie", "10": "M", "11": "Seven (a.k.a. Se7en)", "12": "Her"}
TEXTS = ["You liked Heat 2 and The Godfather.", "Aliens is louder than Alien", "it is up to her",
         "AMÉLIE, in Paris", "Hollow Choir sings", "se7en", "m", "", "nothing here", "heatwave in the city"]


def every_variant(catalog: Catalog, text: str) -> set[tuple[str, str]]:
    """What a scan of every variant of a freshly built catalog with the same titles finds."""
    fresh = Catalog(catalog.titles)
    low = text.lower()
    return {(item, variant) for lv, item, variant in fresh._index.variants if lv in low}


def assert_longest_first(found: list[tuple[str, str]]) -> None:
    lengths = [len(v) for _, v in found]
    assert lengths == sorted(lengths, reverse=True)


def test_the_index_finds_what_a_full_scan_finds_longest_first():
    catalog = Catalog(TITLES)
    for text in TEXTS:
        found = list(catalog.title_matches(text))
        assert set(found) == every_variant(catalog, text)
        assert_longest_first(found)
    assert ("4", "Heat 2") in catalog.title_matches("Heat 2") and ("3", "Heat") in catalog.title_matches("Heat 2")


def test_a_copy_with_held_items_finds_them_and_forgets_what_they_replace():
    base = Catalog.from_titles(["Heat", "Alien", "Brazil"])
    held = base.including({"42": "Heat", "7": "Arrival"})
    found = list(held.title_matches("Heat, Arrival and Brazil"))
    assert ("42", "Heat") in found and ("7", "Arrival") in found and ("title:Brazil", "Brazil") in found
    assert ("title:Heat", "Heat") not in found  # the title-only entry gave way to the item held by id
    again = held.including({"7": "Arrival (2016)"})
    assert ("7", "Arrival") not in list(again.title_matches("Arrival (2016)"))
    assert ("7", "Arrival (2016)") in list(again.title_matches("Arrival (2016)"))
    for text in ["Heat, Arrival and Brazil", "alien brazil heat", "Arrival (2016) and Heat"]:
        for catalog in (held, again):
            found = list(catalog.title_matches(text))
            assert set(found) == every_variant(catalog, text)
            assert_longest_first(found)


def test_random_texts_agree_with_the_full_scan():
    rng = random.Random(0)
    catalog = Catalog(TITLES).including({"20": "Heat of the Night", "21": "Up"})
    words = [w for t in [*TITLES.values(), "of the night", "choir"] for w in t.split()] + ["x", "the", "2"]
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 8)))
        found = list(catalog.title_matches(text))
        assert set(found) == every_variant(catalog, text), text
        assert_longest_first(found)


def test_genre_normalisation_is_remembered_and_unchanged():
    catalog = Catalog(TITLES)
    first = catalog.normalise_genres("Sci-Fi | Rom-Com")
    assert catalog.normalise_genres("Sci-Fi | Rom-Com") == first
    assert "science fiction" in first
