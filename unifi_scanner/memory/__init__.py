"""The memory of a site's runs: incidents new, ongoing and resolved, trends, known admin addresses.

`recall.recall` (reading, before rendering) gives the report its statuses and works out the memory to
keep; the run commits that memory inside the checkpoint, after delivery (`state.store`).
`notify.decide` picks the channels a report goes to (`UNIFI_NOTIFY`). The package imports nothing
itself, so the state files can be read (`memory.model`) without loading the analyzer.
"""
