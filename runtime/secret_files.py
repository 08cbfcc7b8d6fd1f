"""`<VARIABLE>_FILE` for every secret setting: the value is read from that file (Docker and
Kubernetes secrets are files), e.g. CSP_TOKEN_SECRETS_FILE=/run/secrets/csp_token_secrets.

The variable itself wins when both are set; an empty file counts as unset (a placeholder secret,
such as the callback secrets of a deployment that accepts no callback yet)."""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


def _is_secret(field: FieldInfo) -> bool:
    annotation = field.annotation
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def variable_names(settings_cls: type[BaseSettings], name: str, field: FieldInfo) -> list[str]:
    """The environment variable(s) a field is read from."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [alias]
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return [f"{prefix}{name}".upper()]


def secret_variables(settings_cls: type[BaseSettings]) -> dict[str, list[str]]:
    """Secret field name -> the variables whose `_FILE` form it accepts."""
    return {
        name: variable_names(settings_cls, name, field)
        for name, field in settings_cls.model_fields.items()
        if _is_secret(field)
    }


class SecretFilesSource(PydanticBaseSettingsSource):
    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        self._environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for variable in variable_names(self.settings_cls, field_name, field):
            path = self._environ.get(f"{variable}_FILE")
            if path:
                try:
                    value = Path(path).read_text().strip()
                except OSError as err:
                    raise ValueError(f"{variable}_FILE: cannot read {path}: {err}") from err
                return (value or None), variable, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if not _is_secret(field):
                continue
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                # Aliased fields validate by their alias, the others by their name.
                found[key if field.validation_alias is not None else name] = value
        return found
