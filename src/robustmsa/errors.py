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


class RunDirError(RobustMSAError):
    """A run directory cannot be used as asked: it holds another run, is locked by a running
    ``train``, or ``--resume`` does not fit it. The message names the directory / file."""


class OutputError(RobustMSAError, OSError):
    """An output file cannot be written (disk full, permission denied, read-only file system,
    file-size limit). Also an `OSError`; the message names the file."""


class NonFiniteLossError(RobustMSAError, FloatingPointError):
    """Training produced a NaN / inf loss (e.g. a learning rate far too high); the message
    names the method, the epoch, the step and every loss term."""


def os_error_text(e: OSError) -> str:
    """The reason of an `OSError` without its file name (``"No space left on device"``)."""
    return e.strerror or str(e) or type(e).__name__
