"""Storage: the Postgres server (embedded or DATABASE_URL), ORM models and queries."""
