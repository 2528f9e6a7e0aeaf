"""The one error type for bad input: the CLI prints it as one line and exits 2."""


class InputError(ValueError):
    """A parameter, scenario or file a user gave is not acceptable; the message says why.

    ``code`` and ``fields``, where given, name the refusal so that a face other than the CLI
    can say it in its own language (the app's catalogues hold a text per code); the message
    stays the English one."""

    def __init__(self, message, code: str | None = None, **fields):
        super().__init__(message)
        self.code, self.fields = code, fields
