"""Alembic's entry point: migrate the connection the enclave hands over, in its transaction.

``enclave.migrations.run`` passes an open connection (``config.attributes["connection"]``)
inside a transaction it commits itself, so every migration of one upgrade commits together or
not at all. The developers' ``alembic -c enclave/migrations/alembic.ini -x url=...`` command
line gets a connection of its own here.
"""

from alembic import context

from enclave.migrations import VERSION_TABLE
from enclave.tables import metadata


def run_on(conn) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def developer_command_line() -> None:
    from enclave.state import raw_engine

    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the state database: alembic ... -x url=sqlite:////tmp/dev.sqlite")
    engine = raw_engine(url)
    with engine.begin() as conn:
        run_on(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; give -x url=... instead")
connection = context.config.attributes.get("connection")
if connection is None:
    developer_command_line()
else:
    run_on(connection)
