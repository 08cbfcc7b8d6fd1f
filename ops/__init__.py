"""Running the product in production: secret files, health endpoints, tracing, gateway metrics,
pipeline gauges and the Temporal connection profile."""
