"""Registers the product's custom search attributes on a namespace, adding only missing ones."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode

from contract.names import SEARCH_ATTRIBUTES


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    names = {
        SearchAttributeIndexedValueType.KEYWORD: "Keyword",
        SearchAttributeIndexedValueType.DATETIME: "Datetime",
    }
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={names[key.indexed_value_type]}"]
    return flags


async def ensure_search_attributes(client: Client) -> list[str]:
    """Add the missing attributes; returns the names added. Safe to call on every start."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
        if err.status is not RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server
            raise
        known = set()
    added: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        if key.name in known:
            continue
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=client.namespace,
                    search_attributes={
                        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
                    },
                )
            )
        except RPCError as err:
            if (
                err.status is not RPCStatusCode.ALREADY_EXISTS
                and "already exists" not in err.message
            ):
                raise
            continue
        added.append(key.name)
    return added
