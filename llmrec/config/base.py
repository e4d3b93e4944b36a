"""What every config section shares: unknown keys refused, assignments validated, runtime-only marks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# Marks a setting that says where or how fast a result is computed, never what it is (a server's URL, a timeout,
# threads, a batch size): the config fingerprint the audit records leaves it out, so moving a server or tuning speed
# keeps recommendations comparable. It is still in model_dump, so records keep the value that was used.
RUNTIME_ONLY = {"runtime_only": True}
