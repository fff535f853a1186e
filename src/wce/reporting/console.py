"""The rich console every command prints through."""

from __future__ import annotations

import os
import sys


def console():
    """A rich console; 120 columns when output is not a terminal (CI logs, pipes), so tables
    keep their numbers instead of folding them into 80."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120)
