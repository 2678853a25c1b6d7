"""``python -m vid2trail``: the same as the ``vid2trail`` command."""

from ._early import main

if __name__ == "__main__":
    main()
