"""How the product runs: settings, the Temporal connection and its data converter (payload
codec), logging, metrics, search attributes and schedules. Used by the entry points (worker.py,
cli.py, devstack.py, prepare.py) and the gateway."""
