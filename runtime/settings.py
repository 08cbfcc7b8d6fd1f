"""Every setting, read from environment variables. README lists them with their defaults."""

from __future__ import annotations

import contextlib
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

from domain.calendar import (
    DEFAULT_BUSINESS_TIME_ZONE,
    BusinessTimeZone,
    parse_business_instant,
    start_of_day,
)
from domain.capability_assessment import AssessmentWeights
from domain.direct_bill import DirectBillPolicy
from domain.locale import TimeZoneName
from domain.reassessment import ReassessmentPolicy
from domain.relationships import RelationshipPolicy
from domain.reseller_enrollment import EnrollmentPolicy
from runtime.callback_secrets import parse_backend_secrets
from runtime.secret_files import SecretFilesSource
from runtime.state_dir import write_secret_file


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    # A refused setting is named by its validator's message; the input is never echoed (pydantic
    # would print every value given, secrets included).
    model_config = SettingsConfigDict(
        env_prefix="CSP_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

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
    # TLS server name (SNI) when it differs from the address's host (e.g. a private endpoint)
    temporal_tls_server_name: str | None = Field(
        default=None, validation_alias=_alias("TEMPORAL_TLS_SERVER_NAME")
    )
    # temporalio.envconfig: a profile of a TOML file (TEMPORAL_CONFIG_FILE, or the default
    # ~/.config/temporalio/temporal.toml) under the standard TEMPORAL_* variables; the settings
    # above, when set, take precedence over the profile.
    temporal_profile: str | None = Field(default=None, validation_alias=_alias("TEMPORAL_PROFILE"))
    temporal_config_file: Path | None = Field(
        default=None, validation_alias=_alias("TEMPORAL_CONFIG_FILE")
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
    # Implicit TLS from the first byte (SMTPS, usually port 465); exclusive with smtp_starttls.
    smtp_tls: bool = False
    # Authenticating (smtp_username/smtp_password) over a connection without TLS sends the password
    # in the clear: refused unless this says so (a relay on a trusted local link only).
    smtp_allow_plaintext_auth: bool = False
    smtp_timeout_seconds: float = 30.0
    # An SMTP session is kept this long after a message for the next one (0: a session per message).
    smtp_session_idle_seconds: float = Field(default=30.0, ge=0)

    # Partner registry (SQLAlchemy async URL). Default: SQLite file in the state folder.
    registry_url: str | None = None
    # Put into the registry URL when set (so the URL itself names no password)
    registry_password: SecretStr | None = None

    # Partner Center: "local" answers from an editable JSON file; "http" calls the real API.
    partner_center_mode: Literal["local", "http"] = "local"
    partner_center_data: Path | None = None
    partner_center_url: str = "https://api.partnercenter.microsoft.com"
    graph_url: str = "https://graph.microsoft.com"
    partner_center_admin_agent_object_id: str | None = None
    # Entra ID app registration (README "Real Partner Center credentials"). Like every secret, the
    # client secret and the refresh token may come from a file instead (`<VARIABLE>_FILE`).
    entra_tenant_id: str | None = None
    entra_client_id: str | None = None
    entra_client_secret: SecretStr | None = None
    entra_authority_host: str = "https://login.microsoftonline.com"
    # App+User for Partner Center (its MPN profile, MPA status, relationships and order calls
    # accept App+User only): the Secure Application Model refresh token. Without it, app-only.
    partner_center_refresh_token: SecretStr | None = None
    # Static bearer tokens instead of Entra ID (tests, or a token minted elsewhere; never
    # refreshed, so they stop working when they expire).
    partner_center_token: SecretStr | None = None
    graph_token: SecretStr | None = None

    # Partner-program facts without a public API (revenue, security score, designations, ...)
    partner_programs_data: Path | None = None

    # Calendar-date rules (DB-01, DB-07, POR-01, RA-03) count dates in this IANA time zone; a
    # date or instant setting given without a zone means this zone (DOMAIN.md DB-07, open points).
    business_time_zone: BusinessTimeZone = "UTC"

    # Direct-bill application (DOMAIN.md section 7). Closures: comma-separated "start/end", each
    # an ISO date (the start of that day in the business time zone) or instant, half-open
    # [start, end) (DB-07): "2025-05-01/2025-10-01" accepts applications from 2025-10-01.
    db_window_closures: str = "2025-05-01/2025-10-01"
    db_weight_sell: Decimal = Decimal(40)
    db_weight_secure: Decimal = Decimal(35)
    db_weight_support: Decimal = Decimal(25)
    db_pass_mark: Decimal = Decimal(70)
    db_initial_review_days: float = 30
    db_assessment_days: float = 30
    db_assessment_reminder_days: float = 7
    db_information_days: float = 14
    db_decision_days: float = 30
    db_enrollment_form_days: float = 30
    db_credit_review_days: float = 30
    db_support_plan_days: float = 30
    db_mpa_days: float = 30
    # DB-03: a TTM revenue figure stated as of more than this many calendar days before today
    # (business time zone) is refused as unknown; the seeds give no limit, the default is 90.
    revenue_max_age_days: int = 90

    # Annual re-assessment (RA-01): same capability weights and pass mark as the application
    ra_questionnaire_reminder_days: float = 7
    ra_plan_renewal_days: float = 30
    ra_score_notice_days: float = 30
    ra_security_remediation_days: float = 30
    ra_security_remediation_reminder_days: float = 7
    ra_sweep_grace_days: float = 7
    # RA-04: how long a transitioning partner has to choose its indirect provider, how long the
    # partnership with it may take to become active, and how often its record is read meanwhile.
    ra_provider_choice_days: float = 30
    ra_partnership_wait_days: float = 30
    ra_partnership_check_hours: float = 6
    ra_sweep_page_size: int = 200

    # Email-verification link signing: current key first, then previous keys (comma separated).
    token_secrets: SecretStr | None = None

    # Backend callbacks on the gateway: `name=secret,...` or a JSON object {"name": "secret"};
    # a signature older (or newer) than the window is refused.
    callback_secrets: SecretStr | None = None
    callback_max_age_seconds: int = Field(default=300, ge=1)
    callback_timeout_seconds: float = Field(default=30, gt=0)

    # Payload encryption: `id:base64key,...`, current key first (unset: payloads in plain JSON).
    payload_keys: SecretStr | None = None
    # With payload_keys set, unencrypted payloads are refused; true reads histories written before
    # encryption was switched on (runtime/payload_codec.py).
    payload_accept_plaintext: bool = False
    # Bearer tokens of the codec endpoint (comma separated); unset: one kept in the state folder.
    codec_tokens: SecretStr | None = None
    codec_session_hours: float = Field(default=12, gt=0)
    ui_origin: str = "http://127.0.0.1:8233"
    # The Temporal Cloud UI as a codec client (gateway/codec_endpoint.py): its CORS origin (empty:
    # none) and the bearer JWTs it sends. Keys are local files/secrets, never fetched; only the
    # listed subjects (`sub` or `email` claim, comma separated) may decode.
    codec_cloud_origin: str = "https://cloud.temporal.io"
    codec_jwks_file: Path | None = None
    codec_jwt_secret: SecretStr | None = None
    codec_jwt_subjects: str = ""
    codec_jwt_issuer: str | None = None
    codec_jwt_audience: str | None = None
    # issue 15: the zone the Web UI's current details show deadlines in (IANA name).
    display_time_zone: TimeZoneName = "UTC"

    # Enrollment timers (DOMAIN.md open points)
    email_verification_days: int = 30
    resend_after_business_days: int = 1
    review_reminder_days: float = 3
    review_deadline_days: float = 30
    mpa_acceptance_days: int = 30
    mpa_poll_hours: float = 24
    mpa_late_completion_days: float = 335
    mpa_report_interval_seconds: float = Field(default=60, gt=0)
    """At most one MPA signature report re-checks Partner Center per interval (issue 12)."""
    operations_email: str = "csp-operations@example.com"
    # How often the `pipeline-reconciler` Schedule looks for pipelines closed without an outcome
    # (terminated, timed out) and records their real closure (issue 18).
    reconcile_interval_minutes: float = Field(default=60, gt=0)

    # Relationship pipelines (DOMAIN.md sections 3-6): partnership and customer-invitation
    # reminders (comma-separated days) and expiry, POR validation date gate (00:00 that day in
    # the business time zone).
    partnership_reminder_days: str = "7,14"
    partnership_expiry_days: float = 30
    partnership_poll_hours: float = 24
    partnership_refresh_days: float = 30
    customer_invitation_reminder_days: str = "7,14"
    customer_invitation_expiry_days: float = 30
    customer_agreement_days: float = 30
    por_validation_from: date = date(2025, 9, 1)
    order_fix_days: float = 7
    order_retry_minutes: float = 60
    reseller_exit_case_days: float = 30
    reseller_exit_outcome_days: float = 90
    gdap_regrant_days: float = 30
    # REL-07: the `por-validation-sweep` Schedule (every N days, weekly by default) checks every
    # active partnership's reseller with `validateresellers`: PartnerIDs per call, the pause
    # between calls (rate limit) and the calls per run before the sweep continues as new.
    por_sweep_interval_days: float = Field(default=7, gt=0)
    por_sweep_batch_size: int = Field(default=100, ge=1, le=1000)
    por_sweep_pause_seconds: float = Field(default=1, ge=0)
    por_sweep_batches_per_run: int = Field(default=200, ge=1)

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    # Prometheus endpoint of the worker (SDK metrics + business counters); empty disables it.
    metrics_bind: str = "127.0.0.1:9464"
    # Liveness / readiness endpoint of `python worker.py` (`host:port`; empty: none)
    health_bind: str = ""
    # On SIGTERM the worker stops polling and gives running activities this long to finish
    worker_shutdown_seconds: float = Field(default=30, ge=0)
    # Workflow tasks one worker process runs at once. A task holds its slot while its local
    # activities (the lean reads) run, and they all share one Python process: with the SDK's
    # 100, a burst of starts on a busy machine stretched each task past its 10 s timeout, every
    # retry timed out again and the worker stopped making progress (issue 17 bench). Fewer at
    # once keeps each task short; the rest wait in the task queue, where no timeout runs.
    worker_max_workflow_tasks: int = Field(default=16, ge=1, le=1000)
    # How often a worker lists the running pipelines for the csp_pipelines_running,
    # csp_deadlines_due_week and csp_pipelines_past_deadline gauges (0: never)
    pipeline_gauge_seconds: float = Field(default=60, ge=0)
    # OTLP/HTTP collector for traces (e.g. http://otel-collector:4318); unset: no tracing
    otlp_endpoint: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `<VARIABLE>_FILE` for each secret, below the variable itself (runtime/secret_files.py)
        return (
            init_settings,
            env_settings,
            SecretFilesSource(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    @property
    def remote_temporal(self) -> bool:
        """Whether Temporal is elsewhere (an address or an envconfig profile/file is given)."""
        return (
            self.temporal_address is not None
            or self.temporal_profile is not None
            or self.temporal_config_file is not None
        )

    @property
    def registry_database_url(self) -> str:
        url = self.registry_url or f"sqlite+aiosqlite:///{self.state_dir / 'registry.db'}"
        if self.registry_password is None:
            return url
        return (
            make_url(url)
            .set(password=self.registry_password.get_secret_value())
            .render_as_string(hide_password=False)
        )

    @property
    def entra_secret(self) -> str | None:
        secret = self.entra_client_secret
        return secret.get_secret_value() if secret else None

    @property
    def partner_center_user_refresh_token(self) -> str | None:
        token = self.partner_center_refresh_token
        return token.get_secret_value() if token else None

    @property
    def partner_center_data_path(self) -> Path:
        return self.partner_center_data or self.state_dir / "partner-center.json"

    @property
    def partner_programs_data_path(self) -> Path:
        return self.partner_programs_data or self.state_dir / "partner-programs.json"

    @model_validator(mode="after")
    def _relay_auth_needs_tls(self) -> Settings:
        authenticates = self.smtp_username is not None or self.smtp_password is not None
        if self.smtp_starttls and self.smtp_tls:
            raise ValueError("CSP_SMTP_STARTTLS and CSP_SMTP_TLS exclude each other: choose one")
        if (
            authenticates
            and not (self.smtp_starttls or self.smtp_tls)
            and not self.smtp_allow_plaintext_auth
        ):
            raise ValueError(
                "CSP_SMTP_USERNAME/CSP_SMTP_PASSWORD set without TLS: set CSP_SMTP_STARTTLS=true "
                "or CSP_SMTP_TLS=true (or, on a trusted local link only, "
                "CSP_SMTP_ALLOW_PLAINTEXT_AUTH=true)"
            )
        return self

    @field_validator("callback_secrets")
    @classmethod
    def _callback_secrets_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_backend_secrets(value.get_secret_value())  # names the setting, never a secret
        return value

    @field_validator("db_window_closures")
    @classmethod
    def _closures_parse(cls, value: str, info: ValidationInfo) -> str:
        window_closures(value, info.data.get("business_time_zone", DEFAULT_BUSINESS_TIME_ZONE))
        return value

    def direct_bill_policy(self) -> DirectBillPolicy:
        return DirectBillPolicy(
            window_closures=window_closures(self.db_window_closures, self.business_time_zone),
            business_time_zone=self.business_time_zone,
            weights=AssessmentWeights(
                sell=self.db_weight_sell,
                secure=self.db_weight_secure,
                support=self.db_weight_support,
                pass_mark=self.db_pass_mark,
            ),
            initial_review_deadline=timedelta(days=self.db_initial_review_days),
            assessment_deadline=timedelta(days=self.db_assessment_days),
            assessment_reminder_interval=timedelta(days=self.db_assessment_reminder_days),
            information_deadline=timedelta(days=self.db_information_days),
            decision_deadline=timedelta(days=self.db_decision_days),
            enrollment_form_deadline=timedelta(days=self.db_enrollment_form_days),
            credit_review_deadline=timedelta(days=self.db_credit_review_days),
            support_plan_deadline=timedelta(days=self.db_support_plan_days),
            mpa_acceptance_deadline=timedelta(days=self.db_mpa_days),
            revenue_max_age_days=self.revenue_max_age_days,
            operations_email=self.operations_email,
        )

    def reassessment_policy(self) -> ReassessmentPolicy:
        return ReassessmentPolicy(
            weights=self.direct_bill_policy().weights,
            business_time_zone=self.business_time_zone,
            questionnaire_reminder_interval=timedelta(days=self.ra_questionnaire_reminder_days),
            plan_renewal_grace=timedelta(days=self.ra_plan_renewal_days),
            score_notice_wait=timedelta(days=self.ra_score_notice_days),
            security_remediation_period=timedelta(days=self.ra_security_remediation_days),
            security_remediation_reminder_interval=timedelta(
                days=self.ra_security_remediation_reminder_days
            ),
            sweep_grace=timedelta(days=self.ra_sweep_grace_days),
            revenue_max_age_days=self.revenue_max_age_days,
            provider_choice_period=timedelta(days=self.ra_provider_choice_days),
            partnership_wait=timedelta(days=self.ra_partnership_wait_days),
            partnership_check_interval=timedelta(hours=self.ra_partnership_check_hours),
            sweep_page_size=self.ra_sweep_page_size,
            operations_email=self.operations_email,
        )

    def signing_secrets(self) -> list[bytes]:
        """The token keys, newest first. Without a setting, a key kept in the state folder."""
        if self.token_secrets is not None:
            keys = [k.strip() for k in self.token_secrets.get_secret_value().split(",")]
            return [k.encode() for k in keys if k]
        key_file = self.state_dir / "token-secret"
        if not key_file.exists():
            with contextlib.suppress(FileExistsError):  # another process made it meanwhile
                write_secret_file(key_file, secrets.token_urlsafe(48))
        return [key_file.read_text().strip().encode()]

    def enrollment_policy(self) -> EnrollmentPolicy:
        return EnrollmentPolicy(
            email_verification_window=timedelta(days=self.email_verification_days),
            resend_after_business_days=self.resend_after_business_days,
            business_time_zone=self.business_time_zone,
            review_reminder_interval=timedelta(days=self.review_reminder_days),
            review_deadline=timedelta(days=self.review_deadline_days),
            mpa_acceptance_window=timedelta(days=self.mpa_acceptance_days),
            mpa_poll_interval=timedelta(hours=self.mpa_poll_hours),
            mpa_late_completion_window=timedelta(days=self.mpa_late_completion_days),
            mpa_report_interval=timedelta(seconds=self.mpa_report_interval_seconds),
            operations_email=self.operations_email,
        )

    def relationship_policy(self) -> RelationshipPolicy:
        def days(listed: str) -> tuple[timedelta, ...]:
            return tuple(
                timedelta(days=float(d)) for d in (x.strip() for x in listed.split(",")) if d
            )

        return RelationshipPolicy(
            partnership_reminders=days(self.partnership_reminder_days),
            partnership_expiry=timedelta(days=self.partnership_expiry_days),
            partnership_poll_interval=timedelta(hours=self.partnership_poll_hours),
            partnership_refresh_interval=timedelta(days=self.partnership_refresh_days),
            customer_invitation_reminders=days(self.customer_invitation_reminder_days),
            customer_invitation_expiry=timedelta(days=self.customer_invitation_expiry_days),
            customer_agreement_window=timedelta(days=self.customer_agreement_days),
            por_validation_from=start_of_day(self.por_validation_from, self.business_time_zone),
            business_time_zone=self.business_time_zone,
            order_fix_window=timedelta(days=self.order_fix_days),
            order_retry_window=timedelta(minutes=self.order_retry_minutes),
            reseller_exit_case_window=timedelta(days=self.reseller_exit_case_days),
            reseller_exit_outcome_window=timedelta(days=self.reseller_exit_outcome_days),
            gdap_regrant_window=timedelta(days=self.gdap_regrant_days),
            por_sweep_batch_size=self.por_sweep_batch_size,
            por_sweep_pause=timedelta(seconds=self.por_sweep_pause_seconds),
            por_sweep_batches_per_run=self.por_sweep_batches_per_run,
            operations_email=self.operations_email,
        )


def window_closures(text: str, zone_name: str) -> tuple[tuple[datetime, datetime], ...]:
    """DB-07 closures from the setting: "start/end" pairs, comma separated; a date or an instant
    without a zone is read in the business time zone. ValueError names a bad pair."""
    closures = []
    for closure in filter(None, (c.strip() for c in text.split(","))):
        start_text, slash, end_text = closure.partition("/")
        if not slash:
            raise ValueError(f"window closure {closure!r} is not 'start/end'")
        start = parse_business_instant(start_text, zone_name)
        end = parse_business_instant(end_text, zone_name)
        if end <= start:
            raise ValueError(f"window closure {closure!r} ends before it starts")
        closures.append((start, end))
    return tuple(closures)
