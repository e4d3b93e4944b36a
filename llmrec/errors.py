"""A small error hierarchy: every failure a user can cause or fix maps to one of these.

The CLI turns each into one readable line and an exit code (see ``EXIT_CODES``); tracebacks only with ``--debug``.
Messages say what was wrong and what to do about it.
"""

from __future__ import annotations


class LLMRecError(Exception):
    """Base of every error llmrec raises on purpose."""

    exit_code = 1


class ConfigError(LLMRecError, ValueError):
    """A configuration file or option is invalid."""

    exit_code = 2


class CatalogError(LLMRecError, ValueError):
    """A catalog or interaction file is unreadable or has invalid rows.

    ``problems`` lists every row-level issue as ``file:line: field: message`` so a user can fix them all at once.
    """

    exit_code = 3

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class MediaError(LLMRecError):
    """A media file could not be turned into text (corrupt, empty, wrong type)."""

    exit_code = 4


class WorkspaceError(LLMRecError):
    """The workspace is missing, not ingested yet, or locked by another writer."""

    exit_code = 5


class RequestError(LLMRecError, ValueError):
    """A recommendation request is invalid (empty query, bad k, unknown user)."""

    exit_code = 6


class UnknownUserError(RequestError, KeyError):
    """The user id has no interactions in this workspace."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class ModelNotFoundError(LLMRecError):
    """Model weights are not where the config says, and cannot be downloaded here."""

    exit_code = 7


class BackendUnavailable(LLMRecError):
    """A ranking or vector-store backend cannot be reached or is not installed."""

    exit_code = 8


class TrainingError(LLMRecError):
    """Training could not start or continue (no data, incompatible checkpoint)."""

    exit_code = 9
