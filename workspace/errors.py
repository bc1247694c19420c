"""One root exception for the workspace, with specific subclasses that say what and where."""

from __future__ import annotations


class TanjianError(Exception):
    """Root of every error the workspace raises on purpose."""


class ConfigError(TanjianError):
    """The YAML configuration is unreadable or invalid.

    ``problems`` holds one ``(file, line, field, message)`` tuple per problem found.
    """

    def __init__(self, problems: list[tuple[str, int | None, str, str]]):
        self.problems = problems
        lines = [f"{f}:{ln if ln is not None else '?'}: {field}: {msg}" for f, ln, field, msg in problems]
        super().__init__(f"{len(problems)} problem(s) in configuration:\n" + "\n".join(lines))


class JournalError(TanjianError):
    """The journal cannot be written or read."""


class JournalDamaged(JournalError):
    """A record in the middle of the journal fails its checksum."""


class DiskFullError(JournalError):
    """No space left where the workspace writes; nothing partial was kept."""


class StoreError(TanjianError):
    """The versioned store cannot be opened, written or queried."""


class UnknownMeter(TanjianError):
    """A reading names a meter that the site model does not have."""


class CollectorError(TanjianError):
    """A device could not be read."""


class ChainError(TanjianError):
    """The chain node, contract or keystore could not be used."""


class VerificationError(TanjianError):
    """A proof bundle does not verify; ``check`` names the failed check."""

    def __init__(self, check: str, message: str):
        self.check = check
        super().__init__(f"{check}: {message}")
