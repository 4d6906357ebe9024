"""Email delivery with the standard library: `email.message.EmailMessage` built, `smtplib` sent.

The message is multipart/alternative (plain text first, HTML second), optionally wrapped in
multipart/mixed with the HTML/JSON report attached. Bodies are quoted-printable so no line reaches SMTP
longer than RFC 5322's 998 octets, however long the renderer's lines are. Bcc recipients are only in the
SMTP envelope, never in a header. Every header built from report data is squeezed to one line first:
the renderer already does this, but a CR/LF from a hostile controller must never become a header.

Transport: `starttls` (587), implicit TLS `ssl` (465) or `none` (a local relay on 25), verified with
`ssl.create_default_context()` and an optional private CA. The password is never sent over an
unencrypted connection unless `smtp_allow_plaintext_auth` says so. A permanent failure (5xx, rejected
login, untrusted certificate) ends the channel at once; a temporary one (4xx, reset, timeout, refused
connection) is retried with backoff.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
import smtplib
import ssl
from email.headerregistry import Address, Group
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from unifi_scanner.delivery import retry
from unifi_scanner.delivery.files import content_for, report_filename
from unifi_scanner.errors import DeliveryError
from unifi_scanner.models import ChannelResult, RenderedReport, Report
from unifi_scanner.settings import Settings
from unifi_scanner.text import single_line
from unifi_scanner.timeutil import utcnow

log = logging.getLogger(__name__)

CHANNEL = "email"
_ATTACH_FORMATS = {"none": (), "html": ("html",), "json": ("json",), "both": ("html", "json")}
_MIME_TYPES = {"html": ("text", "html"), "json": ("application", "json")}


class SmtpFailure(Exception):
    """One failed SMTP attempt, with a one-line reason and whether trying again could help."""

    def __init__(self, reason: str, *, temporary: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary


def one_line(value: str) -> str:
    """`value` with every control character and line break turned into single spaces.

    RFC 2047 encoded words are defused as well (`=?` becomes `= ?`): the email package decodes
    `=?utf-8?q?=0D=0ABcc:...?=` in a header value it is given and writes the decoded CR/LF out raw,
    which would inject a header.
    """
    return single_line(value).replace("=?", "= ?")


_PHRASE_SPECIALS = re.compile(r'["(),.:;<>@\[\\\]]')


def display_name(value: str) -> str:
    """A sender name the email package always writes as one name: `one_line`, without RFC 5322 specials.

    The package quotes a name holding `;`, `:`, `<`, `"`... only while the header fits on one line;
    when it folds a long one, it writes the name unquoted (a CPython bug), and `a; b: c <me@x>` then
    reads as a group of addresses. A display name needs none of these characters: each becomes a space.
    """
    return " ".join(_PHRASE_SPECIALS.sub(" ", one_line(value)).split())


def envelope_recipients(settings: Settings) -> list[str]:
    """Everyone the message goes to: To, then Cc, then Bcc, each address once."""
    return list(dict.fromkeys([*settings.email_to, *settings.email_cc, *settings.all_bcc]))


def _attachments(report: Report, rendered: RenderedReport, settings: Settings) -> tuple[list, list[str]]:
    """(filename, bytes, fmt) to attach within the size limit, and a note for each one left out."""
    attached, notes, total = [], [], 0
    for fmt in _ATTACH_FORMATS[settings.email_attach]:
        data = content_for(rendered, fmt)
        name = report_filename(report, fmt)
        if total + len(data) > settings.email_attach_max_bytes:
            notes.append(
                f"The attachment {name} ({len(data):,} bytes) was left out: it exceeds the "
                f"{settings.email_attach_max_bytes:,}-byte limit (UNIFI_EMAIL_ATTACH_MAX_BYTES)."
            )
            continue
        total += len(data)
        attached.append((name, data, fmt))
    return attached, notes


def _html_with_notes(body: str, notes: list[str]) -> str:
    """The HTML body with each note as a small paragraph just before </body> (or at the end)."""
    if not notes:
        return body
    block = "".join(f'<p style="font-size:12px;color:#555555">{html.escape(note)}</p>' for note in notes)
    position = body.lower().rfind("</body>")
    return body + block if position < 0 else body[:position] + block + body[position:]


def build_message(report: Report, rendered: RenderedReport, settings: Settings) -> EmailMessage:
    """The complete message for `report`, ready for `smtplib.SMTP.send_message`."""
    sender = settings.email_from or ""
    msg = EmailMessage()
    msg["Subject"] = one_line(rendered.subject) or "UniFi report"
    msg["From"] = Address(display_name=display_name(settings.email_from_name or ""), addr_spec=sender)
    if settings.email_to:
        msg["To"] = ", ".join(settings.email_to)
    if settings.email_cc:
        msg["Cc"] = ", ".join(settings.email_cc)
    if not (settings.email_to or settings.email_cc):
        # RFC 5322's way to say "the recipients are not listed"; some providers drop mail with no To.
        msg["To"] = Group("undisclosed-recipients")
    if settings.email_reply_to:
        msg["Reply-To"] = settings.email_reply_to
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    if settings.email_list_unsubscribe:
        msg["List-Unsubscribe"] = f"<mailto:{settings.email_list_unsubscribe}>"

    attached, notes = _attachments(report, rendered, settings)
    text = rendered.text + "".join(f"\n\n{note}" for note in notes)
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(_html_with_notes(rendered.html, notes), subtype="html", cte="quoted-printable")
    for name, data, fmt in attached:
        maintype, subtype = _MIME_TYPES[fmt]
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def _reply(exc: smtplib.SMTPResponseException) -> str:
    """The server's code and text as one line, e.g. `535 5.7.8 Authentication credentials invalid`."""
    error = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return one_line(f"{exc.smtp_code} {error}")


def classify(exc: Exception) -> SmtpFailure:
    """Map an smtplib/ssl/socket exception to a one-line reason and its permanence."""
    if isinstance(exc, SmtpFailure):
        return exc
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SmtpFailure(f"authentication failed ({_reply(exc)})", temporary=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        temporary = bool(codes) and all(400 <= code < 500 for code in codes)
        return SmtpFailure(f"every recipient was refused (codes {sorted(set(codes))})", temporary=temporary)
    if isinstance(exc, smtplib.SMTPResponseException):
        return SmtpFailure(f"server answered {_reply(exc)}", temporary=400 <= exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SmtpFailure("the server closed the connection", temporary=True)
    if isinstance(exc, smtplib.SMTPException):
        return SmtpFailure(one_line(str(exc)), temporary=False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SmtpFailure(f"TLS certificate verification failed: {exc.verify_message}", temporary=False)
    if isinstance(exc, ssl.SSLError):
        return SmtpFailure(f"TLS error: {exc.reason or exc}", temporary=False)
    if isinstance(exc, TimeoutError):
        return SmtpFailure("timed out", temporary=True)
    if isinstance(exc, ConnectionRefusedError):
        return SmtpFailure("connection refused", temporary=True)
    if isinstance(exc, OSError):
        return SmtpFailure(f"connection failed: {exc.strerror or exc}", temporary=True)
    raise exc


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """A verifying client context: the system CAs, or UNIFI_SMTP_CA_BUNDLE for a private CA."""
    cafile = str(settings.smtp_ca_bundle) if settings.smtp_ca_bundle else None
    return ssl.create_default_context(cafile=cafile)


def _server(settings: Settings) -> str:
    """`host:port (mode)` for messages; never includes credentials."""
    return f"{settings.smtp_host}:{settings.effective_smtp_port} ({settings.smtp_tls})"


def open_session(settings: Settings) -> smtplib.SMTP:
    """Connect, secure the connection as configured, and log in when a user is set.

    Raises SmtpFailure; the password check comes before connecting, so it is never even offered.
    """
    if settings.smtp_user and settings.smtp_tls == "none" and not settings.smtp_allow_plaintext_auth:
        raise SmtpFailure(
            "refusing to send the SMTP password without TLS (use UNIFI_SMTP_TLS=starttls or ssl, "
            "or UNIFI_SMTP_ALLOW_PLAINTEXT_AUTH=true for a trusted local relay)",
            temporary=False,
        )
    host, port, timeout = settings.smtp_host or "", settings.effective_smtp_port, settings.smtp_timeout
    try:
        if settings.smtp_tls == "ssl":
            session = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context(settings))
        else:
            session = smtplib.SMTP(host, port, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - classify() re-raises anything that is not a network error
        raise classify(exc) from exc
    try:
        session.ehlo()
        if settings.smtp_tls == "starttls":
            if not session.has_extn("starttls"):
                raise SmtpFailure("the server does not offer STARTTLS", temporary=False)
            session.starttls(context=_tls_context(settings))
            session.ehlo()
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            session.login(settings.smtp_user, password)
    except Exception as exc:  # noqa: BLE001 - classify() re-raises anything that is not a network error
        session.close()
        raise classify(exc) from exc
    return session


def _close(session: smtplib.SMTP) -> None:
    """QUIT politely; the message is already accepted, so a failing QUIT changes nothing."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        session.quit()
    session.close()


def send_once(msg: EmailMessage, settings: Settings, recipients: list[str]) -> None:
    """One complete SMTP transaction; raises SmtpFailure unless every recipient was accepted."""
    session = open_session(settings)
    try:
        refused = session.send_message(msg, from_addr=settings.email_from, to_addrs=recipients)
    except Exception as exc:  # noqa: BLE001 - classify() re-raises anything that is not a network error
        raise classify(exc) from exc
    finally:
        _close(session)
    if refused:
        listed = ", ".join(f"{address} ({code})" for address, (code, _) in refused.items())
        raise SmtpFailure(
            f"the server refused {len(refused)} of {len(recipients)} recipients: {listed}", temporary=False
        )


def deliver_email(
    report: Report, rendered: RenderedReport, settings: Settings, *, dry_run: bool
) -> ChannelResult:
    """The `email` channel: build the message once, then send it with retries on temporary failures."""
    recipients = envelope_recipients(settings)
    if not (settings.email_to or settings.email_cc):
        log.warning(
            "every email recipient is Bcc; some providers drop mail without a To address "
            "(set UNIFI_EMAIL_TO to choose a visible recipient)"
        )
    msg = build_message(report, rendered, settings)
    if dry_run:
        return ChannelResult(
            channel=CHANNEL,
            ok=True,
            detail=f"dry run: would send to {', '.join(recipients)} via {_server(settings)}",
        )
    def send() -> str:
        send_once(msg, settings, recipients)
        return f"sent to {len(recipients)} recipient(s) via {_server(settings)}"

    return retry.until_done(CHANNEL, send, lambda exc: exc if isinstance(exc, SmtpFailure) else None,
                            what=f"email via {_server(settings)}", prefix=f"{_server(settings)}: ")


def check_smtp(settings: Settings) -> str:
    """Connect, secure and authenticate to the SMTP server without sending; return what was verified.

    Raises DeliveryError with a one-line reason when any step fails.
    """
    if not settings.smtp_host:
        raise DeliveryError("SMTP is not configured (UNIFI_SMTP_HOST is not set)")
    try:
        session = open_session(settings)
    except SmtpFailure as failure:
        raise DeliveryError(f"SMTP {_server(settings)}: {failure.reason}") from None
    _close(session)
    steps = ["connected"]
    if settings.smtp_tls != "none":
        steps.append("TLS certificate verified")
    steps.append(f"authenticated as {settings.smtp_user}" if settings.smtp_user else "no AUTH (no smtp_user)")
    return f"{_server(settings)}: {', '.join(steps)}"
