"""The one base class for failures a user can act on: the CLI prints them as one line, exit 1."""


class MlregError(Exception):
    """A problem to report, not a bug: a backend down or refusing, a lock held, a stale plan."""
