"""What can go wrong with a file."""


class Rejected(Exception):
    """The file is not accepted (type, size, unreadable image, malware found). ``message`` is for the user, in the
    active language; ``code`` says which check refused it (``type``, ``size``, ``image``, ``malware``)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Unavailable(Exception):
    """A configured part is out of reach (the scanner, the storage): nothing was stored; try again later."""


class Tampered(Exception):
    """Stored content does not decrypt or does not match its hash: reported, never served."""


class UnknownKey(Tampered):
    """The master key a file key is wrapped with is not in ``ATTACHMENT_KEYS`` (removed before every file was
    re-wrapped with ``rotate_attachment_keys``): the file cannot be opened until it is configured again."""
