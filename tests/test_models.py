"""The stage contracts' helpers: the fast Record constructor."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from unifi_scanner.models import Record, RecordKind, new_record


def test_new_record_is_exactly_what_model_construct_builds():
    raw = {"_id": "6b03", "time": 1592386923851, "nested": {"list": [1, None, "x"]}}
    moment = datetime(2020, 6, 17, 9, 42, 3, 851000, tzinfo=UTC)
    built = new_record(RecordKind.EVENT, "legacy_events", "6b03", moment, raw)
    reference = Record.model_construct(type="record", kind=RecordKind.EVENT, source="legacy_events",
                                       id="6b03", time=moment, raw=raw)
    # Every slot a pydantic model instance has, including any a future field or pydantic would add.
    for slot in BaseModel.__slots__:
        assert getattr(built, slot) == getattr(reference, slot), slot
    assert list(built.__dict__) == list(reference.__dict__)
    assert built.model_dump_json() == reference.model_dump_json()
    assert built == Record(kind=RecordKind.EVENT, source="legacy_events", id="6b03", time=moment, raw=raw)
    other = new_record(RecordKind.EVENT, "legacy_events", "6b04", moment, raw)
    assert other.model_fields_set is not built.model_fields_set  # never shared between records
