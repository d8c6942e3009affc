"""Domain transforms (normalize, and later dedup, tag, alerts), configuration, the graph and the CLI."""

from importlib import metadata

try:
    __version__ = metadata.version("wirewatch")
except metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
