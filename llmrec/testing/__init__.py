"""Test support shipped with the package, so llmrec's tests and those of code built on it share the same pieces.

- contracts: mixins a new backend subclasses to prove itself with the same tests as the old (``ranking_contract``);
- material: a small hand-written text catalog and tiny MovieLens releases (``catalogs``), hostile media files and
  paths (``hostile_media``), audit records (``audit_records``);
- running things: a real HTTP server in a thread (``server``), the vLLM virtualenv or a skip (``vllm``).

The library never imports this package.
"""
