"""Collection documents: both encodings carry exactly the items written, framing checked alike."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime
from operator import attrgetter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unifi_scanner.document import CollectionWriter, PageWriter, iter_collection, iter_pages
from unifi_scanner.errors import ConfigError
from unifi_scanner.models import ControllerInfo, Footer, Header, Record, RecordBatch, RecordKind, Window

# Finite floats: a file holds infinities as null, the pipe as parsed (the analyzer reads both as absent).
RAW = st.dictionaries(st.text(max_size=10), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
), max_size=6)
MOMENTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
WINDOW = Window(since=datetime(1970, 1, 1, tzinfo=UTC), until=datetime(2101, 1, 1, tzinfo=UTC))
HEADER = Header(generator="test", collected_at=WINDOW.until, site="default", window=WINDOW,
                controller=ControllerInfo(url="https://127.0.0.1", type="unifi_os", auth="password"))


def write(writer: CollectionWriter, records: list[Record], *, page: int = 3, footer: bool = True,
          batched: bool = False) -> None:
    """A document into `writer`, flushed every `page` records as the collector does per page.

    `batched` writes each page's records as RecordBatches (one per run of kind and source), as the
    pagers yield them; otherwise one record at a time.
    """
    writer.write(HEADER)
    writer.flush()
    for start in range(0, len(records), page):
        chunk = records[start:start + page]
        if batched:
            for (kind, source), group in itertools.groupby(chunk, key=attrgetter("kind", "source")):
                batch = RecordBatch(kind, source)
                for record in group:
                    batch.ids.append(record.id)
                    batch.times.append(record.time)
                    batch.raws.append(record.raw)
                writer.write_all(batch)
        else:
            writer.write_all(chunk)
        writer.flush()
    if footer:
        writer.write(Footer(sources=[], counts=dict(writer.counts)))
    writer.flush()


@given(st.lists(st.tuples(st.sampled_from(RecordKind), st.sampled_from(["one", "two"]),
                          st.text(min_size=1, max_size=30), MOMENTS, RAW), max_size=8),
       st.integers(min_value=1, max_value=4), st.booleans())
def test_pages_carry_exactly_what_a_validated_json_document_reads_back(rows, page, batched) -> None:
    records = [Record(kind=kind, source=source, id=rid, time=moment, raw=raw)
               for kind, source, rid, moment, raw in rows]
    text, binary = io.StringIO(), io.BytesIO()
    write(CollectionWriter(text), records, page=page, batched=batched)
    write(PageWriter(binary), records, page=page, batched=batched)
    validated = list(iter_collection(io.StringIO(text.getvalue())))
    unpickled = list(iter_pages(io.BytesIO(binary.getvalue()), name="test"))
    assert unpickled == validated
    assert [type(item) for item in unpickled] == [Header] + [Record] * len(rows) + [Footer]
    assert unpickled[-1].counts == ({str(kind): n for kind in RecordKind
                                     if (n := sum(row[0] is kind for row in rows))})


def test_pages_cut_short_read_as_a_document_without_its_footer() -> None:
    binary = io.BytesIO()
    records = [Record(kind=RecordKind.EVENT, source="test", id=str(n), time=WINDOW.since, raw={})
               for n in range(10)]
    write(PageWriter(binary), records)
    whole = binary.getvalue()
    for cut in (len(whole) - 1, len(whole) // 2):  # killed mid-page, and earlier
        with pytest.raises(ConfigError, match="ends without its footer"):
            list(iter_pages(io.BytesIO(whole[:cut]), name="test"))


def test_a_second_header_is_refused_where_it_stands() -> None:
    text, binary = io.StringIO(), io.BytesIO()
    for writer in (CollectionWriter(text), PageWriter(binary)):
        writer.write(HEADER)
        writer.flush()
        writer.write(HEADER)
        writer.flush()
    with pytest.raises(ConfigError, match="line 2: a second header"):
        list(iter_collection(io.StringIO(text.getvalue())))
    with pytest.raises(ConfigError, match="page 2: a second header"):
        list(iter_pages(io.BytesIO(binary.getvalue()), name="test"))
