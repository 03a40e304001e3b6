"""User-facing error types. The CLI prints these as one clear line, never a traceback."""


class RobustMSAError(Exception):
    """Base class for errors caused by user input (files, configs, arguments)."""


class DataError(RobustMSAError):
    """A data file is unreadable, malformed or inconsistent. The message names file and field."""


class ConfigError(RobustMSAError):
    """A config value or override is invalid. The message names the field."""


class CheckpointError(RobustMSAError):
    """A checkpoint is unreadable, from another format version, or mismatched."""
