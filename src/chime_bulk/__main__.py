"""`python -m chime_bulk`: the same as the `chime-bulk` command."""

from .cli import main

if __name__ == "__main__":
    main()
