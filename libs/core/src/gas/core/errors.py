"""Error classes the worker loop understands."""


class PermanentError(Exception):
    """The message can never succeed: dead-letter it now, do not retry."""


class TransientError(Exception):
    """Try again later: leave the message for redelivery."""


class Defer(Exception):
    """Not due yet: hand the message back, to be received again in `seconds`.

    The worker loop re-sends it with DelaySeconds (SQS then counts it as delayed, not in
    flight) instead of re-polling it in a loop. SQS delays are at most 15 minutes: a
    handler deferring longer is called again then and defers the rest.
    """

    def __init__(self, seconds: float, reason: str = "not due yet"):
        super().__init__(reason)
        self.seconds = seconds


class HandBack(Exception):
    """The worker is shutting down and the handler stopped its work unfinished: make the
    message visible again at once for another replica. Not a failure."""
