"""PostgreSQL: the asyncpg pool, the embedded server, migrations and every SQL query."""
