"""The one exception type a stage turns into a clean, single-line failure."""


class JouleError(Exception):
    """Bad input or configuration. The message names the file or key at fault."""
