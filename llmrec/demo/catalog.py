"""A small, original, multimodal demo catalogue: films, podcast episodes, albums and books, with an interaction log.

Everything is written at demo time rather than shipped: posters and album covers are drawn with Pillow, podcast
intros are spoken by espeak-ng, album previews are tones synthesised with numpy. The repository therefore carries no
binary media and no third-party content (every title, person, plot and voice line below is invented), and a fresh
machine can run the demo offline. The output is deterministic, so a rewrite is byte-identical and caches keyed by
file hash stay valid.

Two items keep a fact only in their media (``HIDDEN_FACTS``): a podcast whose description is a bare episode number
while its spoken intro names the subject, and a film whose poster tagline says what the vague description does not.
They exist so the demo shows that turning media into text changes what can be recommended.
"""

from __future__ import annotations

import io
import json
import math
import random
import shutil
import subprocess
import tempfile
import wave
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, Field

from llmrec.errors import LLMRecError


class DemoRequest(BaseModel):
    """A recommendation request the demo runs, and what it is meant to show."""

    query: str
    user_id: str | None = None
    why: str = Field(description="what this request demonstrates")
    expected_ids: list[str] = Field(default_factory=list,
                                    description="items a good answer ranks at the top (for checking the demo)")


class DemoCatalog(BaseModel):
    """Where ``write_demo_catalog`` put the catalogue and the log, and the requests to run against them."""

    catalog: Path
    interactions: Path
    requests: list[DemoRequest]


@dataclass(frozen=True)
class HiddenFact:
    """A fact an item carries only in one medium; its words appear in none of the item's text fields."""

    medium: str  # "audio" | "image"
    phrase: str  # as spoken or printed
    words: tuple[str, ...]  # lower-case stems a text-only recommender would need to see


HIDDEN_FACTS: dict[str, HiddenFact] = {
    "pod-field-notes-12": HiddenFact("audio", "the volcanoes of Iceland, and the people who farm beside them",
                                     ("volcan", "iceland")),
    "film-shepherd-of-harrow-fell": HiddenFact("image", "DRAGONS IN THE SNOW", ("dragon",)),
}

SPEECH_RATE_WPM = 150  # espeak-ng's -s: slow enough for small speech-to-text models to transcribe reliably
SAMPLE_RATE = 22_050  # Hz, for the synthesised tone previews
POSTER_SIZE = (600, 900)  # width, height in pixels: a 2:3 one-sheet
COVER_SIZE = (600, 600)  # album covers are square
BASE_TIME = 1_714_521_600  # 2024-05-01 00:00 UTC; the log's first event, fixed so rewrites are byte-identical


# --- the catalogue ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Cover:
    """What a poster or album cover shows: the title plus a tagline and a credit line, in a genre's colours."""

    tagline: str
    theme: str
    credit: str = ""


@dataclass(frozen=True)
class _Entry:
    id: str
    title: str
    fields: dict[str, str]  # text fields, in the order they are written
    cover: _Cover | None = None
    speech: str | None = None  # a spoken intro, rendered by espeak-ng
    tones: str | None = None  # a tone-preview style from _TONE_STYLES


def _film(slug: str, title: str, year: int, director: str, genres: str, runtime: int, description: str,
          advice: str, tagline: str | None = None, theme: str = "drama") -> _Entry:
    cover = _Cover(tagline, theme, f"A FILM BY {director.upper()}") if tagline else None
    return _Entry(f"film-{slug}", title, {"kind": "film", "year": str(year), "director": director, "genres": genres,
                                          "runtime": f"{runtime} min", "description": description,
                                          "content_advice": advice}, cover=cover)


def _episode(slug: str, show: str, number: int, title: str, host: str, year: int, minutes: int, genres: str,
             description: str, speech: str) -> _Entry:
    return _Entry(f"pod-{slug}", title, {"kind": "podcast episode", "show": show, "episode": str(number),
                                         "host": host, "year": str(year), "duration": f"{minutes} min",
                                         "genres": genres, "description": description}, speech=speech)


def _album(slug: str, title: str, artist: str, year: int, genres: str, tracks: int, description: str,
           tagline: str, theme: str, tones: str | None = None) -> _Entry:
    return _Entry(f"album-{slug}", title, {"kind": "album", "artist": artist, "year": str(year), "genres": genres,
                                           "tracks": str(tracks), "description": description},
                  cover=_Cover(tagline, theme, artist.upper()), tones=tones)


def _book(slug: str, title: str, author: str, year: int, pages: int, genres: str, description: str) -> _Entry:
    return _Entry(f"book-{slug}", title, {"kind": "book", "author": author, "year": str(year), "pages": str(pages),
                                          "genres": genres, "description": description})


NO_VIOLENCE = "No violence. Suitable for all ages."

_FILMS = (
    # science fiction
    _film("quiet-orbit", "The Quiet Orbit", 2019, "Lena Marsh", "Science fiction, Drama", 128,
          "A maintenance engineer alone on a relay station at the edge of the solar system begins receiving letters "
          "from a crewed ship that left Earth a century ago. A patient, contemplative film about distance, "
          "memory and keeping faith with strangers; most of it unfolds in long, quiet scenes.",
          "No violence. Mild language.", "SOMEONE IS STILL WRITING BACK", "space"),
    _film("iron-meridian", "Iron Meridian", 2021, "Cole Varga", "Science fiction, Action", 114,
          "Six mercenaries fight their way through a mining colony overrun by rogue combat drones to reach the last "
          "shuttle off the moon. Relentless set pieces, explosions and close-quarters combat from the first minute.",
          "Strong violence throughout. Strong language.", "NO ONE LEAVES THE MERIDIAN", "action"),
    _film("static-bloom", "Static Bloom", 2016, "Priya Anand", "Science fiction, Horror", 101,
          "The crew of a botanical research ship wakes to find a fungus from their cargo rewriting their bodies, "
          "one by one. Claustrophobic body horror in cold corridors.",
          "Strong gory violence and body horror.", "IT GROWS IN THE DARK", "horror"),
    _film("lanterns-over-kepler", "Lanterns Over Kepler", 2023, "Tomas Ekdahl", "Animation, Science fiction, Family",
          92, "Two siblings on a farming colony build a giant paper lantern to guide their father's cargo ship home "
          "through a dust storm. Bright, funny and warm, for children and the adults watching with them.",
          "Mild peril.", "EVERY LIGHT IS A WAY HOME", "animation"),
    _film("cartographer-of-tides", "The Cartographer of Tides", 2014, "Amara Okafor", "Science fiction, Mystery",
          119, "An oceanographer mapping a flooded coastal town finds that the tides are answering her soundings with "
          "patterns of their own. A slow, unsettling mystery that builds tension without spectacle.",
          "Moderate threat. One scene of violence.", "THE SEA HAS BEEN LISTENING", "space"),
    _film("afterglow-protocol", "Afterglow Protocol", 2020, "Jun Takeda", "Science fiction, Thriller", 107,
          "A security hacker in a rain-soaked megacity has one night to outrun a digital copy of herself that is "
          "selling her secrets. Fast, neon-lit and full of chases and shoot-outs.",
          "Moderate violence. Strong language.", "YOUR COPY IS ONE STEP AHEAD", "thriller"),
    # horror
    _film("hollow-choir", "The Hollow Choir", 2018, "Marek Novak", "Horror, Supernatural", 98,
          "A village choir rehearsing in a deconsecrated church begins to hear one voice too many. Candle-lit dread "
          "and slow-building scares rather than gore.", "Moderate horror. Brief violence.",
          "COUNT THE VOICES", "horror"),
    _film("ninth-floor", "Ninth Floor", 2021, "Sofia Reyes", "Horror", 94,
          "On her first night shift guarding an unfinished tower, a security guard rides an elevator that stops at a "
          "floor the building does not have.", "Strong threat and horror. Some violence.",
          "THE BUILDING HAS EIGHT FLOORS", "horror"),
    _film("saltmarsh", "Saltmarsh", 2015, "Eamon Flynn", "Horror, Folk horror", 111,
          "A family inherits a farmhouse on the tidal flats and is welcomed a little too warmly into the village's "
          "midsummer rite.", "Strong bloody violence. Disturbing scenes.", "THE HARVEST NEEDS A FAMILY", "horror"),
    _film("cutting-room", "Cutting Room", 2019, "Dario Lentini", "Horror, Slasher", 96,
          "A masked killer stalks the night crew of a film-editing house, restaging the murders from the horror "
          "film they are cutting.", "Strong gory violence throughout.", "FINAL CUT", "horror"),
    _film("lantern-keepers-daughter", "The Lantern Keeper's Daughter", 2022, "Ilse Brandt", "Horror, Gothic", 109,
          "A widowed keeper and his daughter take over a remote lighthouse whose last keeper left a logbook full of "
          "warnings about the child who knocks at the lamp room door. Atmospheric gothic ghost story.",
          "Moderate horror and threat.", "SHE KNOCKS AT MIDNIGHT", "horror"),
    _film("whisper-lake", "Whisper Lake", 2024, "Hana Kim", "Horror, Mystery", 103,
          "Four old friends return to the lakeside cabin where, twenty summers ago, a game of hide and seek never "
          "quite ended.", "Moderate horror. Brief violence.", "READY OR NOT", "horror"),
    # comedy
    _film("second-best-man", "Second Best Man", 2017, "Ruth Abernathy", "Comedy, Romance", 97,
          "The understudy best man loses the rings, the groom and the last ferry to the island wedding, all before "
          "lunch. A warm, chaotic wedding comedy.", "Mild language.", "HE HAD ONE JOB", "comedy"),
    _film("parking-permit", "Parking Permit", 2020, "Oskar Lind", "Comedy", 88,
          "A deadpan municipal clerk wages a polite, escalating war on the man who keeps parking in the mayor's "
          "space.", NO_VIOLENCE, "THIS MEANS PAPERWORK", "comedy"),
    _film("great-cheese-heist", "The Great Cheese Heist", 2013, "Giulia Moretti", "Comedy, Crime", 101,
          "Five retirees plan to steal the prize-winning wheel of cheese from their village fair, and discover "
          "they are not the only gang after it.", "Mild slapstick.", "AGED TO PERFECTION", "comedy"),
    _film("dinner-for-nine", "Dinner for Nine", 2022, "Samir Haddad", "Comedy, Drama", 104,
          "A family reunion dinner comes apart course by course as every guest arrives with a secret to announce.",
          "Moderate language.", None),
    # slow-burn drama
    _film("orchard-in-winter", "The Orchard in Winter", 2016, "Agnieszka Wolna", "Drama", 134,
          "An elderly orchard owner and the son who left twenty years ago spend one pruning season working the "
          "same rows in near silence. Unhurried, tender and beautifully observed.", NO_VIOLENCE,
          "SOME THINGS GROW BACK", "drama"),
    _film("borrowed-light", "Borrowed Light", 2021, "Chidi Eze", "Drama", 112,
          "A photographer who is losing her sight teaches the boy next door to take the pictures she can no longer "
          "see. A gentle, slow-moving friendship story.", NO_VIOLENCE, "SHE SEES THROUGH HIS EYES", "drama"),
    _film("ferrymans-ledger", "The Ferryman's Ledger", 2011, "Rhys Morgan", "Drama", 121,
          "A ferry captain keeps working the crossing through its last year before a new bridge opens, and starts "
          "writing down the stories of his regular passengers.", "No violence. Mild language.", None),
    _film("quiet-rooms", "Quiet Rooms", 2019, "Marta Kowalczyk", "Drama, Period", 138,
          "In a boarding house in 1947, three lodgers who lost everything in the war share a kitchen, a radio and "
          "a long winter. A patient ensemble drama.", "Moderate themes of grief. No violence.",
          "EVERY ROOM HAS A STORY", "drama"),
    # documentary
    _film("ice-road", "Underneath the Ice Road", 2018, "Karin Holm", "Documentary", 89,
          "A winter with the truck drivers who haul fuel across frozen lakes to northern mining towns, listening "
          "for the sound of the ice.", NO_VIOLENCE, "THE ICE TALKS BACK", "documentary"),
    _film("bee-counters", "The Bee Counters", 2021, "Ines Duarte", "Documentary, Nature", 78,
          "Volunteers across one river valley spend a summer counting wild bees, and find out what their gardens "
          "have been telling them.", NO_VIOLENCE, "EVERY ONE COUNTS", "documentary"),
    _film("stitch-by-stitch", "Stitch by Stitch", 2015, "Bethan Price", "Documentary", 84,
          "A mining village spends four years stitching a forty-metre tapestry of its own history.", NO_VIOLENCE,
          None),
    # animation
    _film("pocket-moon", "Pocket Moon", 2020, "Yuki Sato", "Animation, Fantasy, Family", 86,
          "A girl finds a tiny moon in a rock pool and has to hide it in her pocket while it grows. Hand-drawn, "
          "gentle and funny.", "Very mild peril.", "SMALL MOON, BIG SECRET", "animation"),
    _film("clockwork-foxes", "Clockwork Foxes", 2012, "Pierre Lamont", "Animation, Adventure", 95,
          "Two mechanical foxes escape a clockmaker's window and race across a city of bells to stop the great "
          "clock from striking thirteen.", "Mild peril and slapstick.", "RACE AGAINST THE CLOCK", "animation"),
    # thriller
    _film("glass-harbour", "Glass Harbour", 2017, "Anders Vik", "Thriller, Political", 118,
          "A conference interpreter overhears one sentence she was never meant to translate, and every delegation "
          "at the summit wants to know what she heard.", "Moderate violence.", "SHE HEARD EVERYTHING", "thriller"),
    _film("night-train-varna", "Night Train to Varna", 2019, "Elena Petrova", "Thriller, Action", 106,
          "On the overnight sleeper to the coast, a retired bodyguard realises the passenger in the next cabin is "
          "being hunted compartment by compartment.", "Strong violence.", "NEXT STOP: NOWHERE", "thriller"),
    # romance
    _film("letters-to-aurelie", "Letters to Aurélie", 2014, "Claire Dubois", "Romance, Drama", 109,
          "A bookseller in Lyon and a lighthouse technician in Brittany fall in love through the margins of "
          "second-hand books they sell each other.", NO_VIOLENCE, "LOVE IN THE MARGINS", "romance"),
    _film("painted-pier", "The Summer We Painted the Pier", 2023, "Noah Bennett", "Romance, Comedy", 101,
          "Two rival painters hired to restore a seaside pier have one summer to finish the job without falling "
          "for each other. They fail at one of these.", "Mild language.", "ONE SUMMER. ONE PIER. TWO BRUSHES.",
          "romance"),
    # fantasy, western
    _film("shepherd-of-harrow-fell", "The Shepherd of Harrow Fell", 2020, "Niamh Carr", "Fantasy, Adventure", 116,
          "A young shepherd spends one long winter alone in the high fells and comes back changed. Based on a story "
          "the people of Harrow tell only to each other.", "Moderate peril.",
          HIDDEN_FACTS["film-shepherd-of-harrow-fell"].phrase, "winter"),
    _film("dust-and-psalms", "Dust and Psalms", 2010, "Wade Callahan", "Western", 124,
          "A travelling preacher rides into a drought-stricken town that has stopped believing in anything, "
          "including the law.", "Moderate violence.", None),
)

_VOLCANO = HIDDEN_FACTS["pod-field-notes-12"].phrase

_EPISODES = (
    _episode("field-notes-11", "Field Notes", 11, "The Salt Road", "Dana Whitfield", 2023, 41, "Travel, Culture",
             "Episode 11 of Field Notes. Dana follows the old salt traders' route across the mountains and rides "
             "with one of the last camel caravans.",
             "Welcome to Field Notes, episode eleven. This week I follow the old salt road across the mountains, "
             "riding with one of the last camel caravans that still carries salt to market."),
    _episode("field-notes-12", "Field Notes", 12, "Episode 12", "Dana Whitfield", 2023, 44, "Travel",
             "Episode 12 of Field Notes. Dana is back from the road with a new story.",
             f"Welcome to Field Notes, episode twelve. Today we explore {_VOLCANO}. We spend a week with a family "
             "whose sheep graze on the slopes of an active volcano, and ask them why they stay."),
    _episode("field-notes-13", "Field Notes", 13, "The River That Runs Backwards", "Dana Whitfield", 2023, 39,
             "Travel, Nature", "Episode 13 of Field Notes. Surfers, anglers and a tidal wave that travels upstream "
             "twice a month.",
             "Welcome to Field Notes, episode thirteen. Twice a month the tide pushes a wave up the river, against "
             "the current. Today we meet the surfers who ride it for miles."),
    _episode("long-table-bread", "The Long Table", 7, "Bread Before Dawn", "Marco Bellini", 2022, 33,
             "Food, Culture", "Marco spends a night in a village bakery that has fed the same streets for four "
             "generations.",
             "This is The Long Table. I'm Marco Bellini, and tonight I am in a bakery at three in the morning, where "
             "the same family has made bread for four generations."),
    _episode("long-table-fish", "The Long Table", 8, "The Last Fish Market", "Marco Bellini", 2022, 36,
             "Food, Culture", "A harbour fish market on its final morning, told by the traders who ran it.",
             "This is The Long Table. Today, the last morning of a harbour fish market, and the traders who sold "
             "there for fifty years."),
    _episode("tiny-histories-clockmakers", "Tiny Histories", 21, "The Clockmakers' Strike", "Ada Osei", 2021, 28,
             "History", "How a small town's clockmakers stopped every clock in the valley to win a shorter working "
             "day.",
             "Welcome to Tiny Histories. I'm Ada Osei. In eighteen seventy one, the clockmakers of one small valley "
             "town went on strike, and stopped every clock they had ever built."),
    _episode("tiny-histories-map", "Tiny Histories", 22, "The Map That Lied", "Ada Osei", 2021, 31,
             "History, Geography", "An island that appeared on sea charts for a hundred years without ever existing.",
             "Welcome to Tiny Histories. Today, an island that appeared on sea charts for a hundred years, and was "
             "never there at all."),
    _episode("orbit-hour-weigh", "Orbit Hour", 5, "How to Weigh a Planet", "Ravi Menon", 2024, 35,
             "Science, Space", "Ravi explains how astronomers measure the mass of worlds they will never visit.",
             "This is Orbit Hour with Ravi Menon. How do you weigh a planet you can never visit? Today, the clever "
             "tricks astronomers use to do exactly that."),
    _episode("orbit-hour-mars-time", "Orbit Hour", 6, "Living on Mars Time", "Ravi Menon", 2024, 38,
             "Science, Space", "The engineers who shifted their lives forty minutes a day to follow a rover.",
             "This is Orbit Hour. A day on Mars is forty minutes longer than ours. Today we meet the engineers who "
             "lived on Mars time for months, to follow a rover."),
    _episode("night-shift-hotel", "Night Shift Stories", 3, "The Guest in Room 12", "Jo Castellane", 2023, 47,
             "True crime, Mystery", "A hotel guest checks in, orders dinner, and is never seen leaving.",
             "Night Shift Stories. A guest checks into room twelve, orders dinner, and is never seen leaving. "
             "Tonight, the night porter tells us what he saw."),
)

_ALBUMS = (
    _album("harbour-lights", "Harbour Lights", "The Low Tide Collective", 2018, "Folk, Ambient", 9,
           "Fingerpicked guitar, harmonium and field recordings from a working harbour.", "SONGS FOR THE LAST FERRY",
           "sea"),
    _album("neon-parish", "Neon Parish", "Juno Vale", 2021, "Synth-pop", 11,
           "Glossy, danceable synth-pop about small towns and big feelings.", "DANCE LIKE THE LIGHTS ARE OFF",
           "neon"),
    _album("copper-kettle", "Copper Kettle Sessions", "Mabel and the Morning", 2015, "Bluegrass, Folk", 12,
           "A string band recorded live around one microphone in a farmhouse kitchen.", "LIVE FROM THE KITCHEN",
           "western"),
    _album("sub-zero-static", "Sub-Zero Static", "KOVA", 2020, "Techno, Electronic", 8,
           "Driving, cold warehouse techno at a steady 128 beats per minute.", "NO SLEEP TILL SUNRISE", "neon",
           tones="pulse"),
    _album("lullabies-insomniacs", "Lullabies for Insomniacs", "Theo Lark", 2019, "Piano, Ambient", 10,
           "Slow, soft solo piano pieces written for the small hours.", "FOR THE SMALL HOURS", "night",
           tones="lullaby"),
    _album("brass-parade", "Brass Parade", "The Eastside Brass Band", 2017, "Brass band, Funk", 10,
           "A twelve-piece street band playing loud, joyful funk.", "TURN IT UP", "comedy"),
)

_BOOKS = (
    _book("field-guide-vanishing", "A Field Guide to Vanishing Things", "Miriam Achebe", 2020, 256,
          "Essays, Nature writing", "Short essays on glaciers, dialects, night skies and other things that are "
          "quietly disappearing."),
    _book("ninth-winter", "The Ninth Winter", "Henrik Aalto", 2018, 412, "Literary fiction, Science fiction",
          "On a generation ship, a gardener keeps a diary through the ninth winter of a voyage no one alive will "
          "finish. Slow, lyrical and hopeful."),
    _book("murder-low-tide", "Murder at Low Tide", "Penelope Vance", 2022, 320, "Crime, Cosy mystery",
          "A retired harbour master investigates a body found in a lobster pot. Gentle, witty, village crime."),
    _book("patient-gardener", "The Patient Gardener", "Ruth Okonkwo", 2016, 208, "Non-fiction, Gardening",
          "A year of growing vegetables on a tiny city balcony, month by month."),
    _book("bright-machines", "Bright Machines", "Dev Raman", 2021, 288, "Science fiction, Short stories",
          "Twelve stories about kind robots, stubborn satellites and the people who repair them."),
    _book("ghosts-calder-street", "The Ghosts of Calder Street", "Moira Quinn", 2019, 352, "Horror, Gothic",
          "A terrace of houses, a century of tenants, and the things they all heard through the walls."),
)

_ENTRIES: tuple[_Entry, ...] = _FILMS + _EPISODES + _ALBUMS + _BOOKS


# --- who watched what ---------------------------------------------------------------------------------------------

# Hand-written histories (item id suffix, rating 1-5) in the order each user met the items. Tastes are coherent so a
# collaborative model has something to learn: ivan never saw the two newest horror films, which request 2 expects.
_HISTORIES: dict[str, tuple[tuple[str, int], ...]] = {
    "ada": (("film-orchard-in-winter", 5), ("film-quiet-rooms", 4), ("book-ninth-winter", 5),
            ("film-borrowed-light", 5), ("film-iron-meridian", 2), ("film-ferrymans-ledger", 4),
            ("film-cartographer-of-tides", 4), ("book-field-guide-vanishing", 4)),
    "ivan": (("film-hollow-choir", 5), ("film-static-bloom", 4), ("film-ninth-floor", 5), ("film-saltmarsh", 4),
             ("book-ghosts-calder-street", 5), ("film-cutting-room", 3), ("film-parking-permit", 2),
             ("film-night-train-varna", 3), ("pod-night-shift-hotel", 4)),
    "noor": (("pod-tiny-histories-clockmakers", 5), ("pod-tiny-histories-map", 5), ("pod-orbit-hour-weigh", 4),
             ("pod-field-notes-11", 5), ("pod-orbit-hour-mars-time", 4), ("pod-field-notes-13", 4),
             ("pod-long-table-bread", 3), ("film-ice-road", 4)),
    "sam": (("film-second-best-man", 5), ("film-great-cheese-heist", 4), ("film-parking-permit", 5),
            ("film-dinner-for-nine", 4), ("film-painted-pier", 4), ("film-saltmarsh", 1),
            ("album-brass-parade", 4)),
    "lena": (("film-bee-counters", 5), ("film-ice-road", 5), ("film-stitch-by-stitch", 4),
             ("book-field-guide-vanishing", 5), ("book-patient-gardener", 4), ("pod-field-notes-11", 4),
             ("film-afterglow-protocol", 2), ("pod-tiny-histories-map", 4), ("film-orchard-in-winter", 4),
             ("pod-field-notes-13", 5)),
    "kofi": (("film-iron-meridian", 5), ("film-afterglow-protocol", 5), ("film-night-train-varna", 4),
             ("film-glass-harbour", 4), ("film-static-bloom", 3), ("film-quiet-orbit", 2),
             ("album-sub-zero-static", 4), ("film-dust-and-psalms", 4)),
    "mei": (("film-pocket-moon", 5), ("film-clockwork-foxes", 5), ("film-lanterns-over-kepler", 5),
            ("film-great-cheese-heist", 3), ("film-bee-counters", 4), ("album-lullabies-insomniacs", 4)),
    "oscar": (("film-letters-to-aurelie", 5), ("film-painted-pier", 4), ("film-second-best-man", 4),
              ("film-borrowed-light", 5), ("film-orchard-in-winter", 4), ("album-harbour-lights", 4),
              ("film-ninth-floor", 1)),
    "priya": (("album-harbour-lights", 5), ("album-copper-kettle", 4), ("album-lullabies-insomniacs", 5),
              ("album-neon-parish", 3), ("album-brass-parade", 4), ("pod-long-table-fish", 3),
              ("film-letters-to-aurelie", 4)),
    "tom": (("book-murder-low-tide", 5), ("book-bright-machines", 4), ("book-ninth-winter", 4),
            ("book-ghosts-calder-street", 3), ("film-glass-harbour", 4), ("pod-night-shift-hotel", 5),
            ("book-patient-gardener", 2)),
    "rosa": (("pod-long-table-bread", 5), ("pod-long-table-fish", 5), ("film-dinner-for-nine", 4),
             ("film-great-cheese-heist", 4), ("film-letters-to-aurelie", 4), ("book-patient-gardener", 4),
             ("film-cutting-room", 1), ("album-copper-kettle", 4)),
    "jonas": (("album-sub-zero-static", 5), ("album-neon-parish", 5), ("film-afterglow-protocol", 4),
              ("film-iron-meridian", 4), ("film-quiet-orbit", 4), ("film-cartographer-of-tides", 3),
              ("book-bright-machines", 4), ("pod-orbit-hour-mars-time", 4), ("film-lanterns-over-kepler", 3),
              ("album-brass-parade", 2), ("pod-orbit-hour-weigh", 4)),
}

REQUESTS = (
    DemoRequest(query="a slow-burn science-fiction film, nothing too violent", expected_ids=["film-quiet-orbit"],
                why="Anonymous request answered from item text alone: several films are science fiction, but only "
                    "one is both slow and free of violence (the action and body-horror ones must rank below it)."),
    DemoRequest(query="something to watch on Friday night", user_id="ivan",
                expected_ids=["film-lantern-keepers-daughter", "film-whisper-lake"],
                why="The query is vague on purpose: ivan's history (horror films, a ghost-story novel) decides, and "
                    "a good answer is the two horror films he has not seen yet, not ones he already rated."),
    DemoRequest(query="a podcast episode about volcanoes", expected_ids=["pod-field-notes-12"],
                why="Only the audio says what Field Notes episode 12 is about (volcanoes in Iceland); its title and "
                    "description are a bare episode number, so the right answer needs speech-to-text at ingest."),
)


# --- writing ------------------------------------------------------------------------------------------------------

def write_demo_catalog(dest: Path, *, with_speech: bool = True) -> DemoCatalog:
    """Write ``catalog.jsonl``, ``interactions.csv`` and ``media/`` under ``dest``; rewriting is byte-identical.

    Files are only rewritten when their content differs, so a second call leaves modification times alone.

    Args:
        with_speech: False skips the spoken podcast intros (for machines without espeak-ng); the items keep their
            text, the hidden audio fact is then simply absent.
    """
    dest = Path(dest)
    if with_speech:
        _require_espeak()
    (dest / "media").mkdir(parents=True, exist_ok=True)
    rows = [_write_media_and_row(entry, dest, with_speech) for entry in _ENTRIES]
    catalog = dest / "catalog.jsonl"
    _write_if_changed(catalog, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode())
    interactions = dest / "interactions.csv"
    _write_if_changed(interactions, _interactions_csv().encode())
    return DemoCatalog(catalog=catalog, interactions=interactions, requests=list(REQUESTS))


def _write_media_and_row(entry: _Entry, dest: Path, with_speech: bool) -> dict[str, object]:
    """Render an entry's media (if any) and return its catalogue row with media paths relative to ``dest``."""
    row: dict[str, object] = {"id": entry.id, "title": entry.title, **entry.fields}
    if entry.cover is not None:
        size = COVER_SIZE if entry.fields["kind"] == "album" else POSTER_SIZE
        row["image"] = _write_media(dest, f"media/images/{entry.id}.png",
                                    lambda: draw_cover(entry.title, entry.cover, size, seed=_seed(entry.id)))
    audio = []
    if entry.speech and with_speech:
        audio.append(_write_media(dest, f"media/audio/{entry.id}.wav", lambda: speak(entry.speech)))
    if entry.tones:
        audio.append(_write_media(dest, f"media/audio/{entry.id}-preview.wav",
                                  lambda: tone_preview(entry.tones, seed=_seed(entry.id))))
    if audio:
        row["audio"] = audio[0] if len(audio) == 1 else audio
    return row


def _write_media(dest: Path, relative: str, render: Callable[[], bytes]) -> str:
    path = dest / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_if_changed(path, render())
    return relative


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` unless the file already holds exactly it (keeps mtimes, and hash-keyed caches, stable)."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a reader never sees half a file


def _seed(text: str) -> int:
    # crc32, not hash(): str hashes are salted per process, and rewrites must be byte-identical.
    return zlib.crc32(text.encode())


def _interactions_csv() -> str:
    """The log as CSV, one event per line in time order; each user's clock advances by 1-9 days per event."""
    events = []
    for number, (user, history) in enumerate(_HISTORIES.items()):
        rng = random.Random(_seed(user))
        stamp = BASE_TIME + number * 3_607  # users start at different moments of the first day
        for item_id, rating in history:
            events.append((stamp, user, item_id, rating))
            stamp += rng.randint(1, 9) * 86_400 + rng.randint(0, 86_399)
    lines = ["user_id,item_id,timestamp,rating"]
    lines += [f"{user},{item},{stamp},{rating}" for stamp, user, item, rating in sorted(events)]
    return "\n".join(lines) + "\n"


# --- media: speech, tones, covers ---------------------------------------------------------------------------------

def _require_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        raise LLMRecError("espeak-ng is not installed; the demo needs it to speak its podcast intros. Install it "
                          "with `apt-get install espeak-ng` (macOS: `brew install espeak-ng`), or write the demo "
                          "without speech (write_demo_catalog(dest, with_speech=False)).")


def speak(text: str) -> bytes:
    """Speak ``text`` with espeak-ng's default English voice; returns WAV bytes (deterministic for a given version)."""
    _require_espeak()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        result = subprocess.run(["espeak-ng", "-w", str(out), "-s", str(SPEECH_RATE_WPM), text],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:  # 44 = bare WAV header
            raise LLMRecError(f"espeak-ng failed (exit {result.returncode}): {result.stderr.strip()[:300]}")
        return out.read_bytes()


@dataclass(frozen=True)
class _ToneStyle:
    bpm: int
    scale: tuple[int, ...]  # semitones above the root
    root_hz: float
    amplitude: float  # 0..1 of full scale
    brightness: int  # number of odd harmonics added: 0 is a pure sine, more sounds buzzier
    note_beats: float  # how long each note lasts, in beats


_TONE_STYLES = {
    "lullaby": _ToneStyle(bpm=60, scale=(0, 2, 4, 7, 9, 12), root_hz=261.63, amplitude=0.25, brightness=0,
                          note_beats=1.0),
    "pulse": _ToneStyle(bpm=128, scale=(0, 3, 7, 10), root_hz=110.0, amplitude=0.6, brightness=5, note_beats=0.5),
}


def tone_preview(style: str, seed: int, seconds: float = 8.0) -> bytes:
    """A short music-like preview: seeded notes from a scale at a style's tempo, as 16-bit mono WAV bytes.

    Tempo, loudness and brightness differ by style so audio descriptors (tempo, RMS, spectral centroid) can tell
    a slow quiet piano-like piece from a loud fast electronic one.
    """
    spec = _TONE_STYLES[style]
    rng = np.random.default_rng(seed)
    note_seconds = 60.0 / spec.bpm * spec.note_beats
    n_notes = math.ceil(seconds / note_seconds)
    t = np.arange(int(note_seconds * SAMPLE_RATE)) / SAMPLE_RATE  # (samples per note,)
    envelope = np.exp(-t * (3.0 if spec.brightness == 0 else 8.0))  # plucked/struck decay
    notes = []
    for semitone in rng.choice(spec.scale, size=n_notes):
        hz = spec.root_hz * 2 ** (semitone / 12)
        wave_ = sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, 2 * spec.brightness + 2, 2))
        notes.append(wave_ * envelope)
    signal = np.concatenate(notes)[: int(seconds * SAMPLE_RATE)]
    signal = spec.amplitude * signal / max(1e-9, float(np.abs(signal).max()))
    return _wav_bytes((signal * 32_767).astype("<i2"))


def _wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


@dataclass(frozen=True)
class _Theme:
    top: tuple[int, int, int]  # gradient colours, RGB
    bottom: tuple[int, int, int]
    ink: tuple[int, int, int]  # text colour; chosen to contrast with both gradient ends
    motif: str


# One palette per genre so posters of one genre look alike and genres look different (dark blue for space...).
_THEMES = {
    "space": _Theme((6, 10, 40), (20, 40, 110), (235, 240, 255), "stars"),
    "action": _Theme((60, 20, 10), (200, 90, 20), (255, 240, 210), "bars"),
    "horror": _Theme((10, 0, 0), (110, 0, 10), (245, 225, 215), "drips"),
    "animation": _Theme((40, 160, 220), (250, 200, 80), (25, 25, 60), "bubbles"),
    "thriller": _Theme((5, 20, 25), (20, 90, 100), (230, 250, 250), "bars"),
    "comedy": _Theme((255, 210, 40), (255, 120, 40), (40, 20, 60), "confetti"),
    "drama": _Theme((60, 70, 85), (150, 140, 125), (250, 245, 235), "lines"),
    "documentary": _Theme((30, 70, 40), (150, 170, 90), (250, 250, 235), "contours"),
    "romance": _Theme((120, 20, 60), (250, 150, 170), (255, 245, 250), "bubbles"),
    "winter": _Theme((190, 210, 230), (245, 250, 255), (20, 30, 60), "snow"),
    "sea": _Theme((10, 60, 90), (120, 180, 190), (250, 250, 240), "lines"),
    "neon": _Theme((20, 0, 40), (200, 0, 150), (240, 255, 255), "bars"),
    "western": _Theme((120, 60, 20), (230, 170, 90), (40, 20, 10), "contours"),
    "night": _Theme((0, 0, 15), (30, 30, 70), (230, 230, 250), "stars"),
}

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "DejaVuSans-Bold.ttf",  # let FreeType search its own font folders
    "/Library/Fonts/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)


@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A bold TrueType font at ``size`` px (clear, large letters OCR reads well), else Pillow's built-in one."""
    for candidate in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def draw_cover(title: str, cover: _Cover, size: tuple[int, int], seed: int) -> bytes:
    """Draw a poster or album cover as PNG bytes: gradient, genre motif, big title, tagline, credit line."""
    width, height = size
    theme = _THEMES[cover.theme]
    image = _gradient(size, theme.top, theme.bottom)
    draw = ImageDraw.Draw(image)
    _MOTIFS[theme.motif](draw, random.Random(seed), size, theme)
    shadow = tuple(255 - c for c in theme.ink)
    title_bottom = _draw_centered(draw, title.upper(), top=int(height * 0.08), width=width,
                                  start_size=width // 8, max_lines=3, ink=theme.ink, shadow=shadow)
    tagline_top = max(title_bottom + height // 12, int(height * (0.62 if height > width else 0.55)))
    _draw_centered(draw, cover.tagline.upper(), top=tagline_top, width=width, start_size=width // 14,
                   max_lines=3, ink=theme.ink, shadow=shadow)
    if cover.credit:
        _draw_centered(draw, cover.credit, top=height - height // 10, width=width, start_size=width // 26,
                       max_lines=1, ink=theme.ink, shadow=shadow)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    width, height = size
    ramp = np.linspace(0.0, 1.0, height)[:, None]  # (H, 1)
    rows = (1 - ramp) * np.array(top) + ramp * np.array(bottom)  # (H, 3)
    pixels = np.repeat(rows[:, None, :], width, axis=1).round().astype(np.uint8)  # (H, W, 3)
    return Image.fromarray(pixels, "RGB")


def _draw_centered(draw: ImageDraw.ImageDraw, text: str, top: int, width: int, start_size: int, max_lines: int,
                   ink: tuple[int, ...], shadow: tuple[int, ...]) -> int:
    """Draw ``text`` centred, wrapped to at most ``max_lines``, shrinking the font until it fits; returns its bottom."""
    margin = width // 12
    size = start_size
    while True:
        font = _font(size)
        lines = _wrap(draw, text, font, width - 2 * margin)
        if len(lines) <= max_lines or size <= 12:
            break
        size = int(size * 0.9)
    y = top
    for line in lines:
        left, upper, right, lower = draw.textbbox((0, 0), line, font=font, stroke_width=max(1, size // 18))
        x = (width - (right - left)) // 2 - left
        draw.text((x, y - upper), line, font=font, fill=ink, stroke_width=max(1, size // 18), stroke_fill=shadow)
        y += (lower - upper) + size // 4
    return y


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, max_width: int) -> list[str]:
    """Greedy word wrap by measured pixel width (character counts lie for proportional fonts)."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= max_width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines or [text]


def _stars(draw, rng: random.Random, size, theme: _Theme) -> None:
    width, height = size
    for _ in range(220):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.choice((1, 1, 1, 2, 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 230))
    if height > width:  # a planet in the gap between title and tagline; square covers have no such gap
        x, y, r = rng.randrange(width // 4, 3 * width // 4), int(height * 0.45), width // 5
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_mix(theme.bottom, (200, 220, 255), 0.4))


def _drips(draw, rng: random.Random, size, theme: _Theme) -> None:
    width, height = size
    for x in range(0, width, max(8, width // 30)):
        length = rng.randrange(height // 20, height // 3)
        w = rng.randrange(4, 14)
        draw.rectangle((x, 0, x + w, length), fill=(150, 0, 0))
        draw.ellipse((x - 2, length - w // 2, x + w + 2, length + w), fill=(150, 0, 0))


def _bars(draw, rng: random.Random, size, theme: _Theme) -> None:
    width, height = size
    for _ in range(14):
        x = rng.randrange(-width, width)
        w = rng.randrange(10, 60)
        colour = _mix(theme.top, theme.bottom, rng.random())
        draw.polygon([(x, height), (x + w, height), (x + w + width, 0), (x + width, 0)], fill=colour)


def _bubbles(draw, rng: random.Random, size, theme: _Theme) -> None:
    width, height = size
    for _ in range(40):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(8, width // 8)
        colour = _mix(theme.bottom, (255, 255, 255), rng.uniform(0.2, 0.6))
        draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=4)


def _confetti(draw, rng: random.Random, size, theme: _Theme) -> None:
    width, height = size
    palette = ((220, 40, 90), (40, 120, 220), (30, 170, 90), (250, 250, 250), (120, 40, 160))
    for _ in range(180):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + rng.randrange(6, 16), y + rng.randrange(4, 10)), fill=rng.choice(palette))


def _lines(draw, rng: random.Random, size, theme: _Theme) -> None:
    width, height = size
    for y in range(height // 3, height, rng.randrange(18, 30)):
        draw.line((0, y, width, y + rng.randrange(-20, 20)), fill=_mix(theme.top, theme.bottom, 0.5), width=2)


def _contours(draw, rng: random.Random, size, theme: _Theme) -> None:
    width, height = size
    cx, cy = rng.randrange(width), rng.randrange(height // 3, height)
    for r in range(20, max(width, height), 28):
        draw.ellipse((cx - r, cy - r * 0.6, cx + r, cy + r * 0.6), outline=_mix(theme.top, theme.bottom, 0.3),
                     width=2)


def _snow(draw, rng: random.Random, size, theme: _Theme) -> None:
    width, height = size
    ridge = [(x, int(height * 0.55) + rng.randrange(-60, 60)) for x in range(0, width + 60, 60)]
    draw.polygon([(0, height), *ridge, (width, height)], fill=(170, 188, 212))  # snowy fells
    for _ in range(260):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.choice((2, 3, 3, 4))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255), outline=(120, 140, 170))


_MOTIFS: dict[str, Callable[..., None]] = {"stars": _stars, "drips": _drips, "bars": _bars, "bubbles": _bubbles,
                                           "confetti": _confetti, "lines": _lines, "contours": _contours,
                                           "snow": _snow}


def _mix(a: tuple[int, ...], b: tuple[int, ...], share_of_b: float) -> tuple[int, ...]:
    return tuple(round(x * (1 - share_of_b) + y * share_of_b) for x, y in zip(a, b))
