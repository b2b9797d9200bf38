"""The ``hardymer`` command line: :data:`app` (built in :mod:`hardymer.cli.app`, one module per command)."""

from __future__ import annotations

from hardymer.cli._common import parse_seeds
from hardymer.cli.app import app, data_app, main

__all__ = ["app", "data_app", "main", "parse_seeds"]
