"""Benchmarks beside the protocols: ask latency (``ask``), ranking backends (``backends``), prompt injection
(``injection``), Chroma's recall against exact search (``chroma_recall``) and ranking prompt variants
(``prompt_variants``). Each has a ``main(argv)``; ``eval/*.py`` run them as scripts."""
