"""The HTTP gateway: verification links, signed backend callbacks, the codec endpoint and the
OpenAPI document; every HTTP concern (signatures, refusal statuses) lives here."""
