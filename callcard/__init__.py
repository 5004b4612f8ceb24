"""callcard: AI beside the operators of a city's 109 hotline. This package is the composition root and the command."""

__version__ = "0.1.0"
