"""Adapters to the outside world (mail, Partner Center, the partner registry), each behind a small
interface so activities receive them as dependencies and tests inject real local ones."""
