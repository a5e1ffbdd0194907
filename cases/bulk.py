"""Helpers of the set-based writers (issue 17): arrays for ``unnest``, so that a statement that writes a
whole batch has one parameter per column, not one per value."""
import datetime as dt


def array_literal(values) -> str:
    """PostgreSQL's text form of a one-dimensional array of ``values`` (None → NULL, datetimes in ISO 8601
    with their offset, anything else through ``str``), to pass as one parameter cast to ``type[]`` (e.g.
    ``unnest(%s::timestamptz[])``).

    The statement then has a constant size whatever the number of rows, and the driver adapts one string
    instead of each element (the cost that dominated a batch of 500 cases). Every element is quoted, with
    ``\\`` and ``"`` escaped, so any text is safe.
    """
    out = []
    for value in values:
        if value is None:
            out.append("NULL")
            continue
        text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
        out.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(out) + "}"


def copy_rows(model, fields: list[str], rows, *, using: str = "default") -> int:
    """Write ``rows`` (an iterable of tuples, one value per name of ``fields``: attnames of ``model``'s
    concrete fields, e.g. ``case_id``) into ``model``'s table with one PostgreSQL ``COPY … FROM STDIN``
    (psycopg 3), inside the caller's transaction. Values are Python values as the driver adapts them (str,
    int, bool, Decimal, aware datetime, timedelta, None); a JSON column takes its JSON text. Nothing is
    validated or defaulted here: the caller gives every column it needs. Returns the number of rows."""
    from django.db import connections

    opts = model._meta
    connection = connections[using]
    by_attname = {f.attname: f for f in opts.concrete_fields}
    columns = ", ".join(connection.ops.quote_name(by_attname[name].column) for name in fields)
    count = 0
    with connection.cursor() as c, c.cursor.copy(
            f"COPY {connection.ops.quote_name(opts.db_table)} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def reserve_ids(model, count: int, *, using: str = "default") -> list[int]:
    """``count`` new ids of ``model``'s identity primary key, from its own sequence (PostgreSQL), so rows can
    be written by :func:`copy_rows` with their ids known beforehand (events and notices name them)."""
    from django.db import connections

    connection = connections[using]
    with connection.cursor() as c:
        c.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                  [model._meta.db_table, model._meta.pk.column, count])
        return [pk for (pk,) in c.fetchall()]


__all__ = ["array_literal", "copy_rows", "reserve_ids"]
