"""The one error type for bad input: the CLI prints it as one line and exits 2."""


class InputError(ValueError):
    """A parameter, scenario or file a user gave is not acceptable; the message says why."""
