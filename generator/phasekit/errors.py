"""The exceptions phasekit turns into exit codes (see cli.main): one clear line, no traceback."""


class PhasekitError(Exception):
    """A problem the user can fix (bad input, refused overwrite, failed check): exit 1."""

    exit_code = 1


class ModelError(PhasekitError):
    """The architecture (or the compose file it came from) is invalid."""
