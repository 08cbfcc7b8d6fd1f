"""Workflows: one module per pipeline. Deterministic; all side effects go through activities."""
