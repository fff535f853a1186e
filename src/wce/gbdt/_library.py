"""What the library adapters share: the version check and the booster parameters."""

from __future__ import annotations

from typing import Any


def check_version(module: Any, minimum: tuple[int, int], *, what: str) -> None:
    """Refuse a library older than ``minimum`` with a message naming the upgrade."""
    text = getattr(module, "__version__", "0")
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    found = tuple(parts + [0] * (2 - len(parts)))
    if found < minimum:
        need = ".".join(map(str, minimum))
        name = module.__name__
        raise ImportError(
            f"{what} needs {name} >= {need}. Found {name} {text}. "
            f"Upgrade it with: pip install -U '{name}>={need}'"
        )
