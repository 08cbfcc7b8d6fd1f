"""Side effects, as activity classes that receive their dependencies: notifications (email),
checks (Partner Center lookups), the partner registry, and the worker's policy settings."""
