"""A fake UniFi Network controller for tests, benchmarks and ``unifi-scanner run --demo``.

``FakeController`` serves one or more generated sites over real HTTP(S) on 127.0.0.1 in one of three
profiles (UniFi OS with Network 10.x or 9.x, or the legacy self-hosted Network Application), following
the shared API reference; ``Behaviours`` switches on the ways real controllers misbehave. Its scenario
comes with ground truth: ``FakeController.ground_truth`` (``ground_truth_for(site)`` per site) lists
the ``Expected`` findings. Between runs a test can change the sites while it serves (``add_events``,
``device_down``, ``device_up``).
"""

from unifi_scanner.fake.data import Expected
from unifi_scanner.fake.server import (
    Behaviours,
    FakeController,
    InjectStatus,
    Profile,
    Request,
    Response,
    Stats,
)

__all__ = [
    "Behaviours",
    "Expected",
    "FakeController",
    "InjectStatus",
    "Profile",
    "Request",
    "Response",
    "Stats",
]
