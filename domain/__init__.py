"""Pure domain: models, error types and business rules. No I/O, no Temporal imports."""
