"""Wiring: settings, the Temporal contract, logging, clients and the embedded dev stack."""
