"""At worker start: the product's search attributes must exist on the namespace. They are added
where the client may (dev server, self-hosted Temporal); where it may not (Temporal Cloud: the
operator API is not open to namespace API keys), each is probed with a visibility query and the
worker refuses to start, naming the command that creates the missing ones."""

from __future__ import annotations

import structlog
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode

from contract.names import SEARCH_ATTRIBUTES
from runtime.search_attributes import ensure_search_attributes

log = structlog.get_logger(__name__)

_TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
}
_PROBE_VALUES = {
    SearchAttributeIndexedValueType.KEYWORD: "'probe'",
    SearchAttributeIndexedValueType.DATETIME: "'2000-01-01T00:00:00Z'",
}


class SearchAttributesMissing(RuntimeError):
    pass


async def missing_search_attributes(client: Client) -> list[str]:
    """The product's search attributes the namespace does not know, by visibility queries."""
    missing: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        query = f"{key.name} = {_PROBE_VALUES[key.indexed_value_type]}"
        try:
            await client.count_workflows(query)
        except RPCError as err:
            if err.status is not RPCStatusCode.INVALID_ARGUMENT:
                raise
            missing.append(key.name)
    return missing


def how_to_create(namespace: str, missing: list[str]) -> str:
    types = {key.name: _TYPE_NAMES[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}
    cloud = " ".join(f'--search-attribute "{name}={types[name]}"' for name in missing)
    self_hosted = " ".join(f"--name {name} --type {types[name]}" for name in missing)
    return (
        f"search attributes missing on namespace {namespace}: {', '.join(missing)}. "
        f"Temporal Cloud: tcld namespace search-attributes add --namespace {namespace} {cloud} "
        f"(or the Cloud UI: Namespaces > {namespace} > Search attributes). "
        f"Self-hosted: temporal operator search-attribute create --namespace {namespace} "
        f"{self_hosted}, or run `python -m prepare` with operator rights."
    )


async def require_search_attributes(client: Client) -> list[str]:
    """Add the missing attributes where allowed (returns their names); where adding is refused,
    raise SearchAttributesMissing with the commands that create them, unless they all exist."""
    try:
        return await ensure_search_attributes(client)
    except RPCError as err:
        if err.status not in (
            RPCStatusCode.PERMISSION_DENIED,
            RPCStatusCode.UNAUTHENTICATED,
            RPCStatusCode.UNIMPLEMENTED,
        ):
            raise
    try:
        missing = await missing_search_attributes(client)
    except RPCError as err:  # no visibility queries either (the time-skipping test server)
        log.warning("search_attributes_not_checked", error=str(err))
        return []
    if missing:
        raise SearchAttributesMissing(how_to_create(client.namespace, missing))
    return []
