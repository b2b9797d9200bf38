"""``python -m hardymer``: the command-line interface."""

from hardymer.cli import app

if __name__ == "__main__":
    app(prog_name="hardymer")
