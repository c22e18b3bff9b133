"""Error classes the worker loop understands."""


class PermanentError(Exception):
    """The message can never succeed: dead-letter it now, do not retry."""


class TransientError(Exception):
    """Try again later: leave the message for redelivery."""
