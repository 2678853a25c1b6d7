"""The version of vid2trail, in one place: the package, provenance and the build read it."""

__version__ = "0.1.0"
