"""The analyzer scored against the fake controller's ground truth (issues 13 and 17).

For each controller generation the real CLI collects 72 hours (10,000 events) from the fake over TLS
and writes every report format. The report must name each scripted incident exactly once, with the
expected rule and severity and the incident's subject among the affected ids, and add nothing but LOW
findings of routine rules. Failure messages list every miss, so the analyzer developer can read them
off one run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from unifi_scanner.fake import Expected, FakeController
from unifi_scanner.fake.data import C2_CLIENT_NAME, LONG_NAME, PENDING_AP_NAME

PROFILES = ("unifi_os_10", "unifi_os_9", "legacy")
MAX_FINDINGS = 25
DEMO_MAX_FINDINGS = 20
KEPT_PREFIX = 60  # characters of a very long name that must survive in the JSON report
# Elements of the HTML report that carry a finding's or the report's title.
TITLE_ELEMENTS = re.compile(r"<(title|h3|a)\b[^>]*>(.*?)</\1>", re.DOTALL)


def env_for(fake: FakeController, tmp: Path) -> dict[str, str]:
    """The environment of a CLI run against `fake`: pinned TLS, state and reports under `tmp`."""
    return {
        "UNIFI_HOST": fake.url, "UNIFI_USERNAME": fake.username, "UNIFI_PASSWORD": fake.password,
        "UNIFI_TLS_FINGERPRINT": fake.cert_sha256, "UNIFI_STATE_DIR": str(tmp / "state"),
        "UNIFI_REPORTS_DIR": str(tmp / "reports"),
    }


def affected_ids(finding: dict[str, Any]) -> set[str]:
    """The finding's affected ids, lower-cased (MACs compare in lower case)."""
    return {str(item["id"]).lower() for item in finding.get("affected", [])}


def describe(finding: dict[str, Any]) -> str:
    """One line naming a finding: rule, severity, affected ids and title."""
    ids = ", ".join(sorted(affected_ids(finding))) or "-"
    return f"{finding['rule_id']} [{finding['severity']}] affected {{{ids}}}: {finding['title']!r}"


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere inside a parsed JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def score(report: dict[str, Any], truth: list[Expected], routine: frozenset[str], archived: str) -> list[str]:
    """Everything wrong with the report's findings against the ground truth, one line each."""
    findings = report["findings"]
    problems: list[str] = []
    if len(findings) > MAX_FINDINGS:
        problems.append(f"TOO MANY: {len(findings)} findings, at most {MAX_FINDINGS}")
    matched: set[int] = set()
    for expected in truth:
        want = f"{expected.rule_id} [{expected.severity}] for {expected.subject} ({expected.label})"
        same_rule = [n for n, f in enumerate(findings) if f["rule_id"] == expected.rule_id]
        hits = [n for n in same_rule if expected.subject in affected_ids(findings[n])]
        if not hits:
            seen = "; ".join(describe(findings[n]) for n in same_rule) or "none"
            problems.append(f"MISSING: {want}; findings of that rule: {seen}")
            continue
        if len(hits) > 1:
            problems.append(f"DUPLICATE: {want} is reported {len(hits)} times: "
                            + "; ".join(describe(findings[n]) for n in hits))
        matched.update(hits)
        finding = findings[hits[0]]
        if finding["severity"] != expected.severity:
            problems.append(f"WRONG SEVERITY: {want} came as {finding['severity']}: {describe(finding)}")
        if lacking := set(expected.also) - affected_ids(finding):
            problems.append(f"INCOMPLETE: {want} lacks {sorted(lacking)} among affected: {describe(finding)}")
    for n, finding in enumerate(findings):
        if n in matched:
            continue
        if finding["rule_id"] not in routine or finding["severity"] != "low":
            problems.append(f"INVENTED: {describe(finding)} (not expected; only LOW findings of routine "
                            f"rules may be added: {', '.join(sorted(routine))})")
    severe = {(f["rule_id"], frozenset(affected_ids(f))) for f in findings if f["severity"] == "severe"}
    expected_severe = sum(1 for e in truth if e.severity == "severe")
    if len(severe) != expected_severe:
        problems.append(f"SEVERE SET: {len(severe)} severe findings, expected exactly {expected_severe}: "
                        + "; ".join(describe(f) for f in findings if f["severity"] == "severe"))
    for finding in findings:
        if archived in affected_ids(finding):
            problems.append(f"ARCHIVED ALARM: {archived} has only an archived alarm, "
                            f"yet: {describe(finding)}")
        if "\r" in finding["title"] or "\n" in finding["title"]:
            problems.append(f"LINE BREAK IN TITLE: {describe(finding)}")
    return problems


def folded(text: str) -> str:
    """`text` with every run of whitespace (CR and LF included) folded into one space."""
    return " ".join(text.split())


def hostile_problems(report: dict[str, Any], html: str) -> list[str]:
    """Hostile names must reach the JSON as data and the HTML escaped, with no line break in a title.

    A name counts as present when some string holds it, its line breaks possibly folded into spaces
    and, for the very long one, cut after its first `KEPT_PREFIX` characters: the analyzer may keep
    CR/LF out of names and shorten them for display, but must not drop them.
    """
    problems = []
    values = [folded(value) for value in strings(report)]
    for name in (PENDING_AP_NAME, C2_CLIENT_NAME, LONG_NAME):
        if not any(folded(name)[:KEPT_PREFIX] in value for value in values):
            problems.append(f"HOSTILE NAME MISSING from the JSON report: {name!r}")
    if "<img src=x" in html:
        problems.append("UNESCAPED: '<img src=x' appears as markup in the HTML report")
    for element, text in TITLE_ELEMENTS.findall(html):
        if "\r" in text or "\n" in text:
            problems.append(f"LINE BREAK inside <{element}> in the HTML report: {text[:120]!r}")
    return problems


@pytest.mark.parametrize("profile", PROFILES)
def test_report_matches_the_ground_truth(cli, tmp_path: Path, profile: str) -> None:
    out = tmp_path / "out"
    with FakeController(profile=profile, events=10_000, span_hours=72, tls=True) as fake:
        result = cli("report", "--since", "72h", "-o", f"{out}/", env=env_for(fake, tmp_path), timeout=600)
        truth, routine, archived = fake.ground_truth, fake.routine_rules, fake.archived_alarm_device
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    html = (out / "report.html").read_text(encoding="utf-8")
    problems = score(report, truth, routine, archived) + hostile_problems(report, html)
    listing = "\n".join(f"  {describe(f)}" for f in report["findings"])
    assert not problems, (f"{profile}: {len(problems)} problem(s)\n" + "\n".join(problems)
                          + f"\nall {len(report['findings'])} findings:\n{listing}")


def test_demo_shows_few_findings(cli, tmp_path: Path) -> None:
    result = cli("run", "--demo", "--json", "--reports-dir", str(tmp_path / "demo"), timeout=300)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)["counts"]
    total = counts["severe"] + counts["medium"] + counts["low"]
    assert total <= DEMO_MAX_FINDINGS, f"the demo shows {total} findings ({counts}), at most 20"
