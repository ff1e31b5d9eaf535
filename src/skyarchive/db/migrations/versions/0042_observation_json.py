"""Each observation's MAST row stored as JSON text, kept by triggers

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-05 23:50:00

A search of the MAST API had the database build each result row's JSON object (some 35
columns) as it read it: about four microseconds a row on SQLite, three quarters of a criteria
search's SQL and two thirds of a cone's. The object of the default columns is now stored
(``observation_json``) and a search reads it by primary key, putting in ``dataRights``,
which depends on the time of the search, between its two pieces.

The rows are written by the database: triggers on ``observations`` write an observation's
row when it is inserted and when one of its columns changes, and delete it with the
observation, so every writer (ingest, manifests, the synthetic catalogue's bulk load, an
operator's SQL) keeps it without knowing of it. This revision writes the rows of the
observations already there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None

# Written out, not imported: a revision keeps the rules of its day. The search reads these
# rows only where its columns are these very ones (db/tables.py, STORED_JSON_HEAD and
# STORED_JSON_TAIL; a test holds the two lists equal).
_HEAD = (
    "intentType", "obs_collection", "provenance_name", "instrument_name", "project", "filters",
    "wavelength_region", "target_name", "target_classification", "obs_id", "s_ra", "s_dec",
    "dataproduct_type", "proposal_pi", "calib_level", "t_min", "t_max", "t_exptime", "em_min",
    "em_max", "obs_title", "t_obs_release", "proposal_id", "proposal_type", "sequence_number",
    "s_region", "jpegURL", "dataURL",
)  # fmt: skip
_TAIL = ("mtFlag", "srcDen", "obsid", "objID")


def _value(dialect: str, row: str, name: str) -> str:
    """The SQL of column ``name`` of ``row`` as the search writes it into the object."""
    column = f'{row}."{name}"'
    if name in ("obsid", "objID"):  # MAST sends these identifiers as strings
        return f"CAST({column} AS VARCHAR)"
    if name == "mtFlag" and dialect == "sqlite":  # stored 1/0: JSON true/false/null
        return (
            f"json(CASE WHEN {column} IS 1 THEN 'true' WHEN {column} = 0 THEN 'false' "
            "ELSE 'null' END)"
        )
    return column


def _object(dialect: str, row: str, names: tuple[str, ...]) -> str:
    pairs = ", ".join(f"'{name}', {_value(dialect, row, name)}" for name in names)
    if dialect == "postgresql":
        return f"CAST(json_build_object({pairs}) AS TEXT)"
    return f"json_object({pairs})"


def _pieces(dialect: str, row: str) -> tuple[str, str]:
    """The SQL of ``head`` and ``tail`` for ``row``. The head's object loses its closing
    brace, the tail's its opening one, which gains the separator the database writes between
    two members: each value is a scalar, so the brace trimmed is the object's own."""
    separator = ", " if dialect == "postgresql" else ","
    head = f"rtrim({_object(dialect, row, _HEAD)}, '}}')"
    tail = f"'{separator}' || ltrim({_object(dialect, row, _TAIL)}, '{{')"
    return head, tail


_COLUMNS = ", ".join(f'"{name}"' for name in (*_HEAD, *_TAIL))


def _sqlite_triggers() -> list[str]:
    head, tail = _pieces("sqlite", "NEW")
    write = (
        "INSERT OR REPLACE INTO observation_json (obsid, head, tail) "
        f"VALUES (NEW.obsid, {head}, {tail});"
    )
    return [
        f"CREATE TRIGGER observation_json_insert AFTER INSERT ON observations BEGIN {write} END",
        f"CREATE TRIGGER observation_json_update AFTER UPDATE OF {_COLUMNS} ON observations "
        "BEGIN DELETE FROM observation_json WHERE obsid = OLD.obsid AND OLD.obsid IS NOT "
        f"NEW.obsid; {write} END",
        "CREATE TRIGGER observation_json_delete AFTER DELETE ON observations "
        "BEGIN DELETE FROM observation_json WHERE obsid = OLD.obsid; END",
    ]


def _postgresql_triggers() -> list[str]:
    head, tail = _pieces("postgresql", "NEW")
    return [
        "CREATE FUNCTION observation_json_write() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'UPDATE' AND OLD.obsid IS DISTINCT FROM NEW.obsid THEN "
        "DELETE FROM observation_json WHERE obsid = OLD.obsid; END IF; "
        f"INSERT INTO observation_json (obsid, head, tail) VALUES (NEW.obsid, {head}, {tail}) "
        "ON CONFLICT (obsid) DO UPDATE SET head = EXCLUDED.head, tail = EXCLUDED.tail; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER observation_json_write AFTER INSERT OR UPDATE OF "
        f"{_COLUMNS} ON observations FOR EACH ROW EXECUTE FUNCTION observation_json_write()",
        "CREATE FUNCTION observation_json_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM observation_json WHERE obsid = OLD.obsid; RETURN NULL; END $$",
        "CREATE TRIGGER observation_json_delete AFTER DELETE ON observations "
        "FOR EACH ROW EXECUTE FUNCTION observation_json_delete()",
    ]


def upgrade() -> None:
    op.create_table(
        "observation_json",
        # the table's rowid on SQLite: a row is found in one look-up, with no index beside it
        sa.Column("obsid", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("head", sa.Text, nullable=False),
        sa.Column("tail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("obsid", name="pk_observation_json"),
    )
    dialect = op.get_bind().dialect.name
    head, tail = _pieces(dialect, "observations")
    op.execute(
        f"INSERT INTO observation_json (obsid, head, tail) SELECT obsid, {head}, {tail} "
        "FROM observations"
    )
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER observation_json_write ON observations")
        op.execute("DROP TRIGGER observation_json_delete ON observations")
        op.execute("DROP FUNCTION observation_json_write()")
        op.execute("DROP FUNCTION observation_json_delete()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER observation_json_{name}")
    op.drop_table("observation_json")
