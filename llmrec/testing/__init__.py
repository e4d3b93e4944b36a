"""Contract test mixins shipped with the package, so a new backend proves itself with the same tests."""
