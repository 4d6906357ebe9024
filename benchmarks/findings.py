"""Print how many findings the report holds, per rule and severity, on the demo and on a busy site.

The report's length is what decides whether an admin reads it. This runs the real collect-and-analyze
stage against the bundled fake controller (over loopback TLS) for the demo (400 events over 24 h) and
for 10,000 events over 72 hours on each controller generation, and prints the counts; `-v` adds every
finding's severity and title. Not a test: the scored corpus in tests/analyzer/test_scoring.py checks
the findings themselves.

    python benchmarks/findings.py [-v]
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import timedelta

from pydantic import SecretStr

from unifi_scanner.fake import FakeController
from unifi_scanner.models import Report, Window
from unifi_scanner.pipeline import DEMO_EVENTS, DEMO_SEED, collect_and_analyze
from unifi_scanner.settings import Settings

CASES = (
    ("demo", "unifi_os_10", DEMO_EVENTS, 24, DEMO_SEED),
    ("10k/72h unifi_os_10", "unifi_os_10", 10_000, 72, 1),
    ("10k/72h unifi_os_9", "unifi_os_9", 10_000, 72, 1),
    ("10k/72h legacy", "legacy", 10_000, 72, 1),
)
"""(label, fake profile, events, hours, seed) of each measured site."""


def measure(profile: str, events: int, hours: float, seed: int) -> Report:
    """The report of one fake site's whole window, as `run` would analyse it."""
    with FakeController(profile=profile, events=events, seed=seed, tls=True, span_hours=hours) as fake:
        settings = Settings(host=fake.url, username=fake.username, password=SecretStr(fake.password),
                            tls_fingerprint=fake.cert_sha256, site=fake.site)
        window = Window(since=fake.now - timedelta(hours=hours), until=fake.now)
        return collect_and_analyze(settings, window)


def main() -> None:
    """Measure every case and print its counts per rule (and titles with -v)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every finding's title")
    args = parser.parse_args()
    for label, profile, events, hours, seed in CASES:
        report = measure(profile, events, hours, seed)
        counts = report.counts
        print(f"{label}: {counts.total} findings ({counts.severe} severe, {counts.medium} medium, "
              f"{counts.low} low) from {report.total_events} events")
        per_rule = Counter((finding.rule_id, finding.severity.value) for finding in report.findings)
        for (rule_id, severity), count in sorted(per_rule.items(), key=lambda item: (-item[1], item[0])):
            print(f"  {count:4d}  {rule_id} [{severity}]")
        if args.verbose:
            for finding in report.findings:
                print(f"        {finding.severity.value:6s} {finding.title}")


if __name__ == "__main__":
    main()
