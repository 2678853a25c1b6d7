"""``python -m vid2trail``: the same as the ``vid2trail`` command."""

from .cli import run

if __name__ == "__main__":
    run()
