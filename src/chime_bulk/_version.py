"""The package's version: the one place it is written (pyproject.toml reads it from here).

A constant rather than `importlib.metadata.version()`, whose import alone costs every
`chime-bulk` command about 40 ms.
"""

__version__ = "0.1.0"
