"""Every setting, read from environment variables. README lists them with their defaults."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.reseller_enrollment import EnrollmentPolicy


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSP_", extra="ignore", frozen=True)

    # Temporal connection. No address means: start the embedded dev server.
    temporal_address: str | None = Field(default=None, validation_alias=_alias("TEMPORAL_ADDRESS"))
    temporal_namespace: str = Field(
        default="default", validation_alias=_alias("TEMPORAL_NAMESPACE")
    )
    temporal_tls_cert: Path | None = Field(
        default=None, validation_alias=_alias("TEMPORAL_TLS_CERT")
    )
    temporal_tls_key: Path | None = Field(default=None, validation_alias=_alias("TEMPORAL_TLS_KEY"))
    temporal_tls_server_ca: Path | None = Field(
        default=None, validation_alias=_alias("TEMPORAL_TLS_SERVER_CA")
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, validation_alias=_alias("TEMPORAL_API_KEY")
    )

    # Embedded default
    state_dir: Path = Path("var")
    dev_server_port: int = 7233
    dev_ui_port: int = 8233

    # HTTP gateway
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"

    # Mail: "sink" runs the local SMTP sink and sends to it; "relay" sends through smtp_host.
    mail_mode: Literal["sink", "relay"] = "sink"
    mail_from: str = "CSP Enrollment <no-reply@csp-orchestrator.local>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 30.0

    # Partner registry (SQLAlchemy async URL). Default: SQLite file in the state folder.
    registry_url: str | None = None

    # Partner Center: "local" answers from an editable JSON file; "http" calls the real API.
    partner_center_mode: Literal["local", "http"] = "local"
    partner_center_data: Path | None = None
    partner_center_url: str = "https://api.partnercenter.microsoft.com"
    graph_url: str = "https://graph.microsoft.com"
    partner_center_token: SecretStr | None = None
    partner_center_admin_agent_object_id: str | None = None

    # Email-verification link signing: current key first, then previous keys (comma separated).
    token_secrets: SecretStr | None = None

    # Enrollment timers (DOMAIN.md open points)
    email_verification_days: int = 30
    resend_after_business_days: int = 1
    review_reminder_days: float = 3
    review_deadline_days: float = 30
    mpa_acceptance_days: int = 30
    mpa_poll_hours: float = 24
    operations_email: str = "csp-operations@example.com"

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    @property
    def registry_database_url(self) -> str:
        return self.registry_url or f"sqlite+aiosqlite:///{self.state_dir / 'registry.db'}"

    @property
    def partner_center_data_path(self) -> Path:
        return self.partner_center_data or self.state_dir / "partner-center.json"

    def signing_secrets(self) -> list[bytes]:
        """The token keys, newest first. Without a setting, a key kept in the state folder."""
        if self.token_secrets is not None:
            keys = [k.strip() for k in self.token_secrets.get_secret_value().split(",")]
            return [k.encode() for k in keys if k]
        key_file = self.state_dir / "token-secret"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return [key_file.read_text().strip().encode()]

    def enrollment_policy(self) -> EnrollmentPolicy:
        return EnrollmentPolicy(
            email_verification_window=timedelta(days=self.email_verification_days),
            resend_after_business_days=self.resend_after_business_days,
            review_reminder_interval=timedelta(days=self.review_reminder_days),
            review_deadline=timedelta(days=self.review_deadline_days),
            mpa_acceptance_window=timedelta(days=self.mpa_acceptance_days),
            mpa_poll_interval=timedelta(hours=self.mpa_poll_hours),
            operations_email=self.operations_email,
        )
