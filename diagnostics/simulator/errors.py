"""The simulator's one exception: a scenario that cannot be read."""

from __future__ import annotations

from diagnostics.errors import DiagnosticsError


class ScenarioError(DiagnosticsError):
    """A scenario file is missing, is not YAML, or breaks the rules of scenario.md.

    The message is one line that names the file, the line and the key path, e.g.
    ``bad.yaml, line 12: grants.read:exchange[1]: unknown environment id 'env-qa'``.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        path: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.path = path
        self.line = line
