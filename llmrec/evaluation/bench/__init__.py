"""Benchmarks beside the protocols: ask latency (``ask``), ranking backends (``backends``), prompt injection
(``injection``), Chroma's recall against exact search (``chroma_recall``) and ranking prompt variants
(``prompt_variants``). Each has a ``main(argv)``; ``eval/*.py`` run them as scripts."""

# The requests the latency benchmarks time on the demo workspace (``ask``, ``backends``), one list so both time the same.
QUERIES = [
    "a slow-burn science-fiction film, nothing too violent", "a podcast episode about volcanoes",
    "something funny for the whole family", "a scary film for tonight", "calm music to read to",
    "a documentary about the sea", "a thriller with a twist", "a book about grief and gardens",
    "loud fast music", "an animated film about friendship",
]
