"""Reading and writing collection documents (JSON Lines), one item at a time.

The collector appends items as pages arrive; the analyzer iterates them back. Neither holds the whole
document, which keeps memory flat however busy the site is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO

from pydantic import ValidationError
from pydantic_core import from_json

from unifi_scanner.errors import ConfigError
from unifi_scanner.models import (
    COLLECTION_SCHEMA_VERSION,
    CollectionItem,
    Footer,
    Header,
    RecordKind,
    collection_item,
    new_record,
)


class CollectionWriter:
    """Writes a collection document to a text stream: header first, footer last, items between."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.counts: dict[str, int] = {}

    def write(self, item: Header | CollectionItem) -> None:
        """Append one item as a single JSON line."""
        # model_dump_json's own output, minus its per-call wrapper: this runs once per record.
        self._stream.write(item.__pydantic_serializer__.to_json(item).decode() + "\n")
        kind = getattr(item, "kind", None)
        if kind is not None:
            self.counts[str(kind)] = self.counts.get(str(kind), 0) + 1

    def flush(self) -> None:
        """Flush the underlying stream (call after each page so a reader or crash sees progress)."""
        self._stream.flush()


def iter_collection(stream: IO[str], *, name: str = "collection", trusted: bool = False
                    ) -> Iterator[CollectionItem]:
    """Yield the items of a collection document, checking its framing as it goes.

    `trusted` is for the collector's own stream from its child process (`collector.child`): its
    record lines, written by these models a moment earlier, are rebuilt without validation, which
    would double the cost of reading them. Files are always validated line by line.

    Raises ConfigError (exit 2) when the input is not a collection document of a schema this release
    reads: a report given where a collection was expected, a truncated file, a newer schema.
    """
    read = _read_trusted if trusted else collection_item.validate_json
    saw_header = saw_footer = False
    for number, line in enumerate(stream, start=1):
        if line.isspace():  # not strip(): that would copy every line
            continue
        try:
            item = read(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise ConfigError(
                f"{name} line {number} is not a valid collection item ({where}: {first['msg']})"
            ) from None
        if not saw_header:
            if not isinstance(item, Header):
                raise ConfigError(f"{name} does not start with a collection header (is it a collection?)")
            if item.schema_version > COLLECTION_SCHEMA_VERSION:
                raise ConfigError(
                    f"{name} has schema version {item.schema_version}; this release reads up to "
                    f"{COLLECTION_SCHEMA_VERSION}. Upgrade unifi-scanner."
                )
            saw_header = True
        elif isinstance(item, Header):
            raise ConfigError(f"{name} line {number}: a second header (two documents concatenated?)")
        if isinstance(item, Footer):
            saw_footer = True
        yield item
    if not saw_header:
        raise ConfigError(f"{name} is empty")
    if not saw_footer:
        raise ConfigError(f"{name} ends without its footer (the collection was interrupted)")


_KINDS = {kind.value: kind for kind in RecordKind}


def _read_trusted(line: str) -> CollectionItem:
    """One line of our own collector's stream: records rebuilt as written, other items validated."""
    data = from_json(line)
    if data.get("type") != "record":
        return collection_item.validate_python(data)
    return new_record(_KINDS[data["kind"]], data["source"], data["id"], datetime.fromisoformat(data["time"]),
                      data["raw"])


@contextmanager
def open_text(path: str | Path, mode: str) -> Iterator[IO[str]]:
    """Open `path` for text reading or writing, where `-` means stdin or stdout."""
    if str(path) == "-":
        std = sys.stdin if "r" in mode else sys.stdout
        # Controller strings are UTF-8 whatever the locale of the cron environment says.
        std.reconfigure(encoding="utf-8")
        yield std
        if std is sys.stdout:
            std.flush()
        return
    with open(path, mode, encoding="utf-8", newline="\n") as handle:
        yield handle
