"""The segment's `sql` block for a call to an SQL database, as AWS's translator makes it.

Only for the SQL systems of db.system; the block's url is the span's name (the translator finds
a connection string there no use), connection_string is db.connection_string (or localhost)
and the database name, and the statement is kept as sanitized_query.
"""

from typing import Any

SQL_SYSTEMS = frozenset(
    (
        "db2",
        "derby",
        "hive",
        "mariadb",
        "mssql",
        "mysql",
        "oracle",
        "postgresql",
        "sqlite",
        "teradata",
        "other_sql",
    )
)
SYSTEM = "db.system"
CONNECTION = "db.connection_string"
DATABASE = ("db.name", "db.namespace")
STATEMENT = ("db.statement", "db.query.text")
USER = "db.user"
CONSUMED = frozenset((SYSTEM, CONNECTION, *DATABASE, *STATEMENT, USER))


def sql_block(attributes: dict[str, Any], span_name: str) -> tuple[dict[str, Any] | None, set[str]]:
    """The block (None unless the span is an SQL call) and the attributes it consumed."""
    system = attributes.get(SYSTEM)
    if not isinstance(system, str) or system not in SQL_SYSTEMS:
        return None, set()
    connection = attributes.get(CONNECTION)
    database = _first(attributes, DATABASE)
    block: dict[str, Any] = {
        "url": span_name,
        "connection_string": f"{connection if isinstance(connection, str) and connection else 'localhost'}/"
        f"{database if isinstance(database, str) else ''}",
        "database_type": system,
    }
    user = attributes.get(USER)
    if isinstance(user, str) and user:
        block["user"] = user
    statement = _first(attributes, STATEMENT)
    if isinstance(statement, str) and statement:
        block["sanitized_query"] = statement
    return block, {key for key in CONSUMED if key in attributes}


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in attributes:
            return attributes[key]
    return None
