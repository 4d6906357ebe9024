"""Run a fake controller until SIGTERM/SIGINT.

``python -m unifi_scanner.fake --profile unifi_os_10 --events 10000 [--sites default,branch] [--mix ips]
[--port N] [--tls]`` prints one JSON line with the base URL, the credentials and the sites on stdout,
then serves; ``--events`` counts each site's events. ``--record FILE`` appends every request it serves
to FILE as a JSON line (method, target, body), so a benchmark can replay exactly the pages a client
fetched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from types import FrameType
from typing import IO
from urllib.parse import urlencode

from unifi_scanner.fake.data import MIXES
from unifi_scanner.fake.server import Behaviours, FakeController, Profile, Request


def recorder(stream: IO[str]) -> Behaviours:
    """Behaviours whose only hook writes each request to `stream` as a JSON line and lets it through."""
    lock = threading.Lock()  # handler threads run concurrently: one line at a time

    def record(req: Request) -> None:
        target = req.path + ("?" + urlencode(req.query, doseq=True) if req.query else "")
        body = req.body.decode("utf-8", "replace")
        line = json.dumps({"method": req.method, "target": target, "body": body})
        with lock:
            stream.write(line + "\n")
            stream.flush()

    return Behaviours(hooks=(record,))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start the fake, announce it on stdout and serve until a stop signal."""
    parser = argparse.ArgumentParser(prog="python -m unifi_scanner.fake", description=__doc__)
    parser.add_argument("--profile", choices=[p.value for p in Profile], default=Profile.UNIFI_OS_10.value)
    parser.add_argument("--events", type=int, default=10_000, help="number of events to generate per site")
    parser.add_argument("--sites", default="default",
                        help="comma-separated site names; the first plays the scripted scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--span-hours", type=float, default=24, help="events spread over this many hours")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with the bundled self-signed cert")
    parser.add_argument("--mix", choices=sorted(MIXES), default="default", help="background event mix")
    parser.add_argument("--record", metavar="FILE", help="append every request served to FILE (JSON lines)")
    args = parser.parse_args(argv)
    sites = [name.strip() for name in args.sites.split(",")]

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    record = open(args.record, "a", encoding="utf-8") if args.record else None  # noqa: SIM115 - closed below
    with record or contextlib.nullcontext():
        try:
            fc = FakeController(
                profile=args.profile,
                events=args.events,
                seed=args.seed,
                tls=args.tls,
                span_hours=args.span_hours,
                port=args.port,
                mix=args.mix,
                behaviours=recorder(record) if record else None,
                sites=sites,
            )
        except ValueError as exc:  # a bad --sites list
            parser.error(str(exc))
        with fc:
            announce = {
                "url": fc.url,
                "username": fc.username,
                "password": fc.password,
                "api_key": fc.api_key,
                "site": fc.site,
                "sites": list(fc.sites),
                "profile": fc.profile.value,
                "tls": fc.tls,
            }
            if fc.tls:
                announce.update(cert_path=str(fc.cert_path), cert_sha256=fc.cert_sha256)
            sys.stdout.write(json.dumps(announce) + "\n")
            sys.stdout.flush()
            # Wake up now and then: Event.wait without a timeout would delay signal handling on some
            # platforms.
            while not stop.wait(0.5):
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
