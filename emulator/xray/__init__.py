"""A local AWS X-Ray backend: the daemon's UDP intake, a SQLite trace store and the X-Ray API.

Split like moto: `store` holds the state, `documents` is the segment document format,
`graph`/`traces`/`filters` answer the queries, `backend` is the service, `api` the
rest-json wire format and routing, `server` puts it together, `map` draws the service map.
"""
