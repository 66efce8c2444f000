"""The embedded PostgreSQL server, the pgvector extension and the migrated schema."""

from sqlalchemy import text

from app.db.server import sqlalchemy_url


def test_embedded_server_runs_postgres_with_pgvector(session):
    version = session.execute(text("SHOW server_version")).scalar()
    assert int(version.split(".")[0]) >= 16
    extension = session.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    ).scalar()
    assert extension is not None and tuple(map(int, extension.split(".")[:2])) >= (0, 8)


def test_schema_has_vector_and_text_indexes(session):
    indexes = dict(
        session.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks'")
        ).all()
    )
    hnsw = "USING hnsw (((embedding)::halfvec(384)) halfvec_cosine_ops)"  # revision 0010
    assert hnsw in indexes["ix_chunks_embedding_hnsw"]
    assert "USING gin (tsv)" in indexes["ix_chunks_tsv_gin"]
    column = session.execute(
        text(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'"
        )
    ).scalar()
    assert column == "vector(384)"


def test_migrating_again_changes_nothing(runtime, session):
    before = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    runtime.migrate()
    assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == before


def test_generated_tsvector_follows_the_text(session):
    lexemes = session.execute(
        text("SELECT tsv::text FROM chunks WHERE text ILIKE '%Glacierline%' LIMIT 1")
    ).scalar()
    assert "'glacierlin'" in lexemes


def test_libpq_urls_get_the_psycopg3_driver():
    assert sqlalchemy_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert sqlalchemy_url("postgres://u@/d?host=/tmp") == "postgresql+psycopg://u@/d?host=/tmp"
    assert sqlalchemy_url("postgresql+psycopg://x/y") == "postgresql+psycopg://x/y"


def test_models_and_migrations_agree(runtime):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.db.models import Base

    with runtime.db.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
