"""Properties of rendering untrusted text: subjects stay one line, HTML shows controller text escaped.

Every string a controller sends (site name, device and client names, event messages) is arbitrary
text. Whatever it holds, the subject never carries a control character into a mail header, and the
HTML report never gains an element or attribute the template did not put there.
"""

from __future__ import annotations

import unicodedata
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.renderer.factories import make_finding, make_report
from unifi_scanner.models import Affected, EventSample, Severity, TimelineEntry
from unifi_scanner.renderer import render, render_subject
from unifi_scanner.settings import Settings

# Arbitrary text, seeded with the characters that break headers and markup.
hostile = st.lists(
    st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
        ["\r", "\n", "\r\n", "\x00", "\x1b", "\u2028", "\u0085", "<", ">", '"', "'", "&", "`", "=",
         "<script>", "</style>", '" onerror="x', "<img src=x onerror=alert(1)>", "{{", "{% raw %}", "]]>"]),
    max_size=8,
).map("".join)


BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_unsafe(char: str) -> bool:
    """Controls, line and paragraph separators and bidi overrides have no place in a header line."""
    if char.isspace():
        return char != " "
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI


@given(site=hostile, template=st.sampled_from([
    "{severe_tag}UniFi report for {site} ({date})", "{site}", "[{total}] {site} - {severe} severe"]))
@settings(max_examples=300, deadline=None)
def test_the_subject_is_one_clean_line_for_any_site_name(site, template):
    subject = render_subject(make_report([], site=site, devices=0), Settings(subject_template=template))
    assert subject and len(subject) <= 200
    assert not any(is_unsafe(char) for char in subject), repr(subject)


def test_a_subject_template_with_a_line_break_is_refused():
    with pytest.raises(ValidationError, match="single line"):
        Settings(subject_template="Report\r\nBcc: {site}")


class Markup(HTMLParser):
    """Collects every start tag and attribute name of a document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data):
        self.text.append(data)


def markup(document: str) -> Markup:
    """Parse `document` and return what it holds."""
    parser = Markup()
    parser.feed(document)
    parser.close()
    return parser


def report_with(text: str):
    """A report whose every controller-supplied string is `text`."""
    finding = make_finding(1, Severity.SEVERE, title=text, affected_name=text)
    finding = finding.model_copy(update={
        "affected": [Affected(kind="device", id=text or "x", name=text)],
        "samples": [EventSample(id="e1", time=finding.first_seen, key=text, message=text)],
        "details": {text or "k": text},
        "timeline": [TimelineEntry(time=finding.first_seen, text=text)],
        "rule_ids": [text],
    })
    return make_report([finding], site=text, devices=1)


BASELINE = markup(render(report_with("Office AP"), "html", Settings()))


@given(text=hostile)
@settings(max_examples=300, deadline=None)
def test_html_shows_controller_text_escaped_and_adds_no_markup(text):
    document = render(report_with(text), "html", Settings())
    found = markup(document)
    assert found.tags <= BASELINE.tags, found.tags - BASELINE.tags
    assert found.attributes <= BASELINE.attributes, found.attributes - BASELINE.attributes
    assert "<script" not in document.lower()
    visible = " ".join(part.strip() for part in found.text)
    words = [word for word in text.split() if word.isalnum()]
    assert all(word in visible for word in words[:3])  # the text is shown, not swallowed
