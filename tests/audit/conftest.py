"""What the audit specs share: the `llmrec audit` command on a bare Typer app, as the CLI registers it."""

import pytest
import typer

from llmrec.audit.commands import register


@pytest.fixture(scope="module")
def app():
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """llmrec (test copy)"""

    register(app)
    return app
