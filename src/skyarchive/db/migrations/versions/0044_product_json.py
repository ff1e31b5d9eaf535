"""Each product's row of a product list stored as JSON text in pieces, kept by triggers

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-06 14:40:00

A product list (``Mast.Caom.Products``) had the database build each file's JSON object (some
twenty members) as it read it: on SQLite two fifths of the list's statement, on PostgreSQL
(``json_build_object``) two thirds of its backend's time. A file's own members are now stored
(``product_json``) and read by primary key. What depends on the observation a file is listed
under (``dataproduct_type`` and ``filters`` where the file has none of its own, ``obsID`` and
``obs_id``) is put in between the pieces as the list is made: ``head`` is the object up to
the ``dataproduct_type`` key, ``body`` from the member after it (its separator first) up to
the ``filters`` key, each key followed by the database's own spacing, so that the object is
the very text the database built before.

The rows are written by the database: triggers on ``products`` write a file's pieces when it
is inserted and when one of its listed columns changes, and delete them with the file, so
every writer keeps them without knowing of them. This revision writes the pieces of the files
already there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

# Written out, not imported: a revision keeps the rules of its day. The list reads these
# pieces while a file's members are these very ones (db/tables.py, STORED_PRODUCT_HEAD and
# STORED_PRODUCT_BODY; a test holds them equal).
_HEAD = ("obs_collection",)
_BODY = (
    "description", "type", "dataURI", "productType", "productGroupDescription",
    "productSubGroupDescription", "productDocumentationURL", "project", "prvversion",
    "proposal_id", "productFilename", "size", "calib_level",
)  # fmt: skip


def _object(dialect: str, row: str, names: tuple[str, ...], last: str) -> str:
    """The object of ``names`` and a ``last`` member whose value is null."""
    pairs = ", ".join(f"'{name}', {row}.\"{name}\"" for name in names)
    if dialect == "postgresql":
        return f"CAST(json_build_object({pairs}, '{last}', NULL) AS TEXT)"
    return f"json_object({pairs}, '{last}', NULL)"


def _pieces(dialect: str, row: str) -> tuple[str, str]:
    """The SQL of ``head`` and ``body`` for ``row``. Each object loses its last value, the
    null, and its closing brace (``rtrim`` of the characters of ``null}``, which stops at the
    key's colon or the space after it); the body loses its opening brace too and gains the
    separator the database writes between two members."""
    separator = ", " if dialect == "postgresql" else ","
    head = f"rtrim({_object(dialect, row, _HEAD, 'dataproduct_type')}, 'nul}}')"
    body = (
        f"'{separator}' || ltrim(rtrim({_object(dialect, row, _BODY, 'filters')}, 'nul}}'), '{{')"
    )
    return head, body


_COLUMNS = ", ".join(f'"{name}"' for name in (*_HEAD, *_BODY))


def _sqlite_triggers() -> list[str]:
    head, body = _pieces("sqlite", "NEW")
    write = (
        "INSERT OR REPLACE INTO product_json (product_id, head, body) "
        f"VALUES (NEW.product_id, {head}, {body});"
    )
    return [
        f"CREATE TRIGGER product_json_insert AFTER INSERT ON products BEGIN {write} END",
        f"CREATE TRIGGER product_json_update AFTER UPDATE OF product_id, {_COLUMNS} ON products "
        "BEGIN DELETE FROM product_json WHERE product_id = OLD.product_id AND OLD.product_id "
        f"IS NOT NEW.product_id; {write} END",
        "CREATE TRIGGER product_json_delete AFTER DELETE ON products "
        "BEGIN DELETE FROM product_json WHERE product_id = OLD.product_id; END",
    ]


def _postgresql_triggers() -> list[str]:
    head, body = _pieces("postgresql", "NEW")
    return [
        "CREATE FUNCTION product_json_write() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'UPDATE' AND OLD.product_id IS DISTINCT FROM NEW.product_id THEN "
        "DELETE FROM product_json WHERE product_id = OLD.product_id; END IF; "
        f"INSERT INTO product_json (product_id, head, body) VALUES (NEW.product_id, {head}, "
        f"{body}) ON CONFLICT (product_id) DO UPDATE SET head = EXCLUDED.head, "
        "body = EXCLUDED.body; RETURN NULL; END $$",
        "CREATE TRIGGER product_json_write AFTER INSERT OR UPDATE OF product_id, "
        f"{_COLUMNS} ON products FOR EACH ROW EXECUTE FUNCTION product_json_write()",
        "CREATE FUNCTION product_json_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM product_json WHERE product_id = OLD.product_id; RETURN NULL; END $$",
        "CREATE TRIGGER product_json_delete AFTER DELETE ON products "
        "FOR EACH ROW EXECUTE FUNCTION product_json_delete()",
    ]


def upgrade() -> None:
    op.create_table(
        "product_json",
        # the table's rowid on SQLite: a row is found in one look-up, with no index beside it
        sa.Column("product_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
        sa.Column("head", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("product_id", name="pk_product_json"),
    )
    dialect = op.get_bind().dialect.name
    head, body = _pieces(dialect, "products")
    op.execute(
        f"INSERT INTO product_json (product_id, head, body) SELECT product_id, {head}, {body} "
        "FROM products"
    )
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER product_json_write ON products")
        op.execute("DROP TRIGGER product_json_delete ON products")
        op.execute("DROP FUNCTION product_json_write()")
        op.execute("DROP FUNCTION product_json_delete()")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER product_json_{name}")
    op.drop_table("product_json")
