"""``python -m xinbao.entrypoints.cli``: the same as the ``xinbao`` command."""

from xinbao.entrypoints.cli.main import main

if __name__ == "__main__":
    main()
