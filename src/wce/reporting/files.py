"""Writing report files: each file appears whole or not at all.

A file is written to a temporary file in the same directory and moved into
place with ``os.replace``, so an interrupted run never leaves a truncated
``results.json`` or ``report.md`` that a later run (or reader) would trust.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_path(path: str):
    """Yield a temporary path in the directory of ``path`` (same suffix, so writers that infer
    the format from it still work); on success it replaces ``path``, on failure it is removed."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        f.write(text)


def write_json_atomic(path: str, data, *, indent: int | None = None, default=None) -> None:
    """Write ``data`` as JSON (compact unless ``indent`` is given) with :func:`write_text_atomic`."""
    separators = (",", ":") if indent is None else None
    write_text_atomic(path, json.dumps(data, indent=indent, separators=separators, default=default))


def write_csv_atomic(path: str, rows: list, fieldnames: list) -> None:
    """Write dict ``rows`` as CSV with the header ``fieldnames`` with :func:`write_text_atomic`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())


def check_output_dir(path, *, option: str = "--out") -> str:
    """Refuse, before anything is computed or created, an output folder that cannot be written:
    an empty name, an existing file, a name too long, or a place without write permission
    (tested by creating and removing a probe folder in the nearest existing parent).
    Returns the path; ValueError says what is wrong. Creates nothing that stays."""
    if not isinstance(path, (str, os.PathLike)) or not str(os.fspath(path)).strip():
        raise ValueError(f"{option} needs a folder name; got {path!r}.")
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{option} {path!r} is an existing file, not a folder.")
    limit = 255
    too_long = [part for part in os.path.normpath(path).split(os.sep) if len(part.encode()) > limit]
    if too_long:
        raise ValueError(f"{option}: the folder name {too_long[0][:40]!r}... is longer than {limit} bytes.")
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    if not os.path.isdir(parent):
        raise ValueError(f"{option} {path!r}: {parent!r} is a file, so no folder can be created under it.")
    try:
        probe = tempfile.mkdtemp(prefix=".wce-write-test-", dir=parent)
        os.rmdir(probe)
    except OSError as exc:
        raise ValueError(f"{option} {path!r}: cannot write in {parent!r} ({exc.strerror or exc}).") from None
    return path


def read_json(path: str):
    """The JSON value in ``path``, or None if the file is missing or not valid JSON."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
