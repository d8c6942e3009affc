"""The exception for bad input: stages catch it (and validation errors) and dead-letter the record."""


class BadRecordError(ValueError):
    """The input itself is wrong (format, encoding, content); retrying cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigError(ValueError):
    """A flag or environment value is wrong; the message names it and says what is allowed."""
