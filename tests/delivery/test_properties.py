"""Properties of the email headers: no controller text can break a header line or add a header.

The subject comes from the renderer, but the mail layer must not trust it: whatever text reaches
`build_message` (subject, site name inside it, sender display name from the settings), the message
serialises to the same set of headers, each of them one logical line.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.delivery.factories import SENDER, make_rendered, make_report
from unifi_scanner.delivery.mail import build_message
from unifi_scanner.renderer import render_subject
from unifi_scanner.settings import Settings

text = st.lists(
    st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
        ["\r", "\n", "\r\n", "\r\nBcc: victim@example.com", "\nX-Injected: 1", "\x00", "\x0b", "\x0c",
         "\x85", "\u2028", "\u2029", "=?utf-8?q?=0D=0ABcc:_x@example.com?=", ":", ";", "<", ">", '"']),
    max_size=8,
).map("".join)
EXPECTED = {"subject", "from", "to", "date", "message-id", "auto-submitted", "mime-version", "content-type"}


@given(subject=text, site=text, from_name=text.map(lambda value: " ".join(value.split())))
# A long sender name with specials: the email package folded it unquoted, and it read back as a group.
@example(subject="", site="", from_name="=?utf-8?q?=0D=0ABcc:_x@example.com?=; Bcc: victim@example.com Bcc: "
                                        "victim@example.com")
@settings(max_examples=300, deadline=None)
def test_no_text_breaks_a_header_or_adds_one(subject, site, from_name):
    config = Settings(reports_dir=Path("/nonexistent"), email_enabled=True, email_from=SENDER,
                      email_from_name=from_name or None, email_to=["ops@example.com"], smtp_host="127.0.0.1")
    report = make_report(site=site)
    for line in (subject, render_subject(report, config)):
        raw = build_message(report, make_rendered(report, subject=line), config).as_bytes()
        head = raw.split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
        for physical in head.split(b"\n"):
            # Each physical line starts a header or continues (folds) the previous one.
            assert physical[:1] in (b" ", b"\t") or b":" in physical, physical
        parsed = message_from_bytes(raw, policy=policy.default)
        assert {name.lower() for name in parsed.keys()} == EXPECTED
        for name, value in parsed.items():
            assert "\r" not in value and "\n" not in value, (name, value)
        assert parsed["To"] == "ops@example.com"
