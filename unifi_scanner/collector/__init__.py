"""The collector stage: log in to a UniFi Network controller and stream what happened into a collection.

Public API:

* `collect(settings, window, writer, *, progress=None) -> CollectStats`
* `check_controller(settings) -> ControllerInfo`
* `collect_site(conn, settings, window, writer)` and `site_names(conn)`: many sites on one login
* `CollectStats`
* `EVENT_FEEDS`: the sources without which a window cannot be reported completely
"""

from unifi_scanner.collector.collect import CollectStats, check_controller, collect, collect_site, site_names
from unifi_scanner.collector.sources import EVENT_FEEDS

__all__ = ["EVENT_FEEDS", "CollectStats", "check_controller", "collect", "collect_site", "site_names"]
