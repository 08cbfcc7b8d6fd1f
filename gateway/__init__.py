"""The HTTP gateway: the email-verification link (and, later, backend callbacks and the codec)."""
