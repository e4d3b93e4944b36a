"""Request understanding: what a person says as a condition becomes a constraint the answer honours.

``facets`` learns from the catalog what can be asked for (kinds, genres, people, years, lengths, ratings);
``parser`` reads a request into a ``RequestInterpretation`` (hard conditions, "like X" anchors, the soft rest);
``conditions`` writes each condition as a Chroma ``where`` filter and as a predicate; ``index`` keeps the facets in
the workspace and the vector store; ``relax`` widens the softest condition when too few items meet them all.
"""
