"""Collection documents: what the writer writes, both readers read back the same."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from unifi_scanner.document import CollectionWriter, iter_collection
from unifi_scanner.models import ControllerInfo, Footer, Header, Record, RecordKind, Window

RAW = st.dictionaries(st.text(max_size=10), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
), max_size=6)
MOMENTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(st.lists(st.tuples(st.sampled_from(RecordKind), st.text(min_size=1, max_size=30), MOMENTS, RAW),
                max_size=8))
def test_the_trusted_reader_rebuilds_exactly_what_validation_would(rows) -> None:
    window = Window(since=datetime(1970, 1, 1, tzinfo=UTC), until=datetime(2101, 1, 1, tzinfo=UTC))
    buffer = io.StringIO()
    writer = CollectionWriter(buffer)
    writer.write(Header(generator="test", collected_at=window.until, site="default", window=window,
                        controller=ControllerInfo(url="https://127.0.0.1", type="unifi_os", auth="password")))
    for kind, rid, moment, raw in rows:
        writer.write(Record(kind=kind, source="test", id=rid, time=moment, raw=raw))
    writer.write(Footer(sources=[]))
    text = buffer.getvalue()
    validated = list(iter_collection(io.StringIO(text)))
    trusted = list(iter_collection(io.StringIO(text), trusted=True))
    assert trusted == validated
    assert [type(item) for item in trusted] == [Header] + [Record] * len(rows) + [Footer]
