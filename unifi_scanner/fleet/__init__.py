"""Many sites and many controllers in one run (`UNIFI_SITES`, the config file's `controllers:`).

`plan` turns the settings into the controllers to run (with `--controller` and `--shard`), `layout`
places each site's state in `<state dir>/<controller>/<site>/`, `run` drives one `SiteCycle` per site
and delivers their reports alone or merged (`merge`) as `UNIFI_REPORT_PER` asks.
"""
