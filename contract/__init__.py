"""The contract: what crosses the Temporal boundary and what operators and backends type.

`names`: task queue, workflow types, update/query/signal names, workflow ids, search attributes.
`activities`: every activity a workflow can call, with its input and output types.
`pipelines`: the catalogue of what operators start and what backends report.
`errors`: business refusals as Temporal's non-retryable ApplicationError, and back.
"""
