"""User-facing error types. The CLI prints these as one clear line, never a traceback."""


class RobustMSAError(Exception):
    """Base class for errors caused by user input (files, configs, arguments)."""


class DataError(RobustMSAError):
    """A data file is unreadable, malformed or inconsistent. The message names file and field."""


class ConfigError(RobustMSAError, ValueError):
    """A config value, override or condition string is invalid. The message names the field."""


class CheckpointError(RobustMSAError):
    """A checkpoint is unreadable, from another format version, or mismatched."""


class UnknownNameError(ConfigError, KeyError):
    """An unknown registry entry, protocol or modality name (also a `KeyError`)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""
