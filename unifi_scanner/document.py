"""Reading and writing collection documents, one item at a time.

The collector appends items as pages arrive; the analyzer iterates them back. Neither holds the whole
document, which keeps memory flat however busy the site is.

A document has two encodings. Files (`collect -o`, `report -i`) are JSON Lines, validated line by
line when read. Between our own two processes (`collector.child`) the same items travel as one pickle
per page, with the records as columns of plain values: writing and reading JSON lines cost the collector a
fifth and the analyzer a third of their CPU, for a format nobody else reads.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from unifi_scanner.errors import ConfigError
from unifi_scanner.models import (
    COLLECTION_SCHEMA_VERSION,
    CollectionItem,
    Footer,
    Header,
    Record,
    RecordBatch,
    RecordKind,
    collection_item,
    new_record,
)


class CollectionWriter:
    """Writes a collection document as JSON Lines: header first, footer last, items between."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.counts: dict[str, int] = {}

    def write(self, item: Header | CollectionItem) -> None:
        """Append one item."""
        self._append(item)
        kind = getattr(item, "kind", None)
        if kind is not None:
            self._count(kind, 1)

    def _count(self, kind: RecordKind, records: int) -> None:
        """Add `records` of `kind` to the counts the footer carries."""
        self.counts[str(kind)] = self.counts.get(str(kind), 0) + records

    def write_all(self, items: Iterable[CollectionItem] | RecordBatch) -> None:
        """Append a page of items (a list, or a pager's RecordBatch)."""
        for item in items:
            self.write(item)

    def _append(self, item: Header | CollectionItem) -> None:
        # model_dump_json's own output, minus its per-call wrapper: this runs once per record.
        self._stream.write(item.__pydantic_serializer__.to_json(item).decode() + "\n")

    def flush(self) -> None:
        """Flush the underlying stream (call after each page so a reader or crash sees progress)."""
        self._stream.flush()


class IncompleteDocument(ConfigError):
    """A collection document that ends before its footer: its writer was interrupted."""


class PageWriter(CollectionWriter):
    """Writes a collection document to a binary stream as one pickle per page, for `iter_pages`.

    Only for a stream read by our own process: unpickling runs whatever the stream says.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(stream)  # type: ignore[arg-type]
        self._page: list[Any] = []

    def _append(self, item: Header | CollectionItem) -> None:
        # Records go as columns of plain values (see write_all); the few other items as models.
        if isinstance(item, Record):
            self._page.append((item.kind.value, item.source, [item.id], [item.time], [item.raw]))
        else:
            self._page.append(item)

    def write_all(self, items: Iterable[CollectionItem] | RecordBatch) -> None:
        """Append a page of items; a RecordBatch goes as its columns, one tuple for the whole page.

        Plain values pickle three times faster than models, and new_record rebuilds the Records
        without validation on the other side.
        """
        if isinstance(items, RecordBatch):
            self._page.append((items.kind.value, items.source, items.ids, items.times, items.raws))
            self._count(items.kind, len(items))
        else:
            super().write_all(items)

    def flush(self) -> None:
        """Send the items written since the last flush as one page."""
        if self._page:
            pickle.dump(self._page, self._stream, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[arg-type]
            self._page = []
        self._stream.flush()

    def end_document(self) -> None:
        """Mark the end of this document (whole or not): the stream's next document may follow."""
        self.flush()
        self.counts.clear()
        pickle.dump(None, self._stream)  # type: ignore[arg-type]
        self._stream.flush()


def iter_collection(stream: IO[str], *, name: str = "collection") -> Iterator[CollectionItem]:
    """Yield the items of a JSON Lines collection document, checking its framing as it goes.

    Raises ConfigError (exit 2) when the input is not a collection document of a schema this release
    reads: a report given where a collection was expected, a truncated file, a newer schema.
    """
    return _framed(_lines(stream, name), name)


def iter_pages(stream: IO[bytes], *, name: str) -> Iterator[CollectionItem]:
    """Yield the items a PageWriter wrote to `stream`, with the same framing checks as a file's.

    Only for our own collector's stream: its items were built by these models a moment earlier, so
    nothing is validated again.
    """
    return _framed(_unpickled(stream), name)


def _lines(stream: IO[str], name: str) -> Iterator[tuple[str, CollectionItem]]:
    """Each non-blank line of `stream` validated as an item, with where it was."""
    for number, line in enumerate(stream, start=1):
        if line.isspace():  # not strip(): that would copy every line
            continue
        try:
            item = collection_item.validate_json(line)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise ConfigError(
                f"{name} line {number} is not a valid collection item ({where}: {first['msg']})"
            ) from None
        yield f"line {number}", item


_KINDS = {kind.value: kind for kind in RecordKind}


def _unpickled(stream: IO[bytes]) -> Iterator[tuple[str, CollectionItem]]:
    """Each item of each page in `stream`, records rebuilt from their columns, until the stream ends
    or a document's end mark (`PageWriter.end_document`: the next document follows on the stream)."""
    page_number = 0
    while True:
        try:
            page = pickle.load(stream)  # noqa: S301 - written by our own forked collector
        except (EOFError, pickle.UnpicklingError):
            return  # the writer stopped (mid-page, if it was killed): the framing check tells
        if page is None:
            return
        page_number += 1
        where = f"page {page_number}"
        for entry in page:
            if type(entry) is tuple:
                kind_value, source, ids, times, raws = entry
                kind = _KINDS[kind_value]
                for rid, moment, raw in zip(ids, times, raws, strict=True):
                    yield where, new_record(kind, source, rid, moment, raw)
            else:
                yield where, entry
        page = entry = raws = raw = None  # not held while the next page is read


def _framed(items: Iterable[tuple[str, CollectionItem]], name: str) -> Iterator[CollectionItem]:
    """The items, checked to make one whole document: a header of a schema we read first, a footer last."""
    saw_header = saw_footer = False
    for where, item in items:
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
            raise ConfigError(f"{name} {where}: a second header (two documents concatenated?)")
        if isinstance(item, Footer):
            saw_footer = True
        yield item
    if not saw_header:
        raise ConfigError(f"{name} is empty")
    if not saw_footer:
        raise IncompleteDocument(f"{name} ends without its footer (the collection was interrupted)")


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
