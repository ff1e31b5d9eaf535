"""SQLAlchemy Core tables of the catalog.

Column names follow MAST's CAOM and product-list names exactly (``obs_collection``, ``jpegURL``,
``productSubGroupDescription``...) so that the MAST adapter can pass rows through without a
rename table. ``dataRights`` is never stored: it is derived from ``t_obs_release`` at query time.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

programs = Table(
    "programs",
    metadata,
    Column("proposal_id", String(32), primary_key=True, comment="Unpadded, e.g. '1073'"),
    Column("obs_collection", String(32), nullable=False, default="JWST"),
    Column("title", Text),
    Column("pi_name", String(200)),
    Column("category", String(32), comment="GO, GTO, ERS, COM, CAL, DD, ..."),
    Column("subcategory", String(32)),
    Column("cycle", Integer),
    Column(
        "eap_months",
        Integer,
        comment="Operator override of the exclusive-access period; NULL = rule by category",
    ),
    Column("pi_user_id", Integer, ForeignKey("users.user_id"), comment="The PI's account"),
    Index(None, "pi_user_id"),  # the caller's programs (access/caller.py)
)

observations = Table(
    "observations",
    metadata,
    Column("obsid", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("obs_id", String(120), nullable=False, unique=True),
    Column("status", String(16), nullable=False, default="executed", comment="planned|executed"),
    Column("intentType", String(16)),
    Column("obs_collection", String(32), nullable=False),
    Column("provenance_name", String(32)),
    Column("instrument_name", String(40)),
    Column("project", String(32)),
    Column("filters", String(120)),
    Column("wavelength_region", String(32)),
    Column("target_name", String(120)),
    Column("target_classification", String(200)),
    Column("s_ra", Float),
    Column("s_dec", Float),
    Column("dataproduct_type", String(32)),
    Column("proposal_pi", String(200)),
    Column("calib_level", Integer),
    Column("t_min", Float),
    Column("t_max", Float),
    Column("t_exptime", Float),
    Column("em_min", Float),
    Column("em_max", Float),
    Column("obs_title", Text),
    Column("t_obs_release", Float),
    Column("proposal_id", String(32), ForeignKey("programs.proposal_id")),
    Column("proposal_type", String(32)),
    Column("sequence_number", Integer),
    Column("s_region", Text),
    Column("jpegURL", String(300)),
    Column("dataURL", String(300)),
    Column("mtFlag", Boolean, default=False),
    Column("srcDen", Float),
    Column("objID", BigInteger),
    Column("exp_type", String(40), comment="JWST EXP_TYPE of the observation's files"),
    Index(None, "proposal_id"),
    Index(None, "obs_collection"),
    Index(None, "instrument_name"),
    Index(None, "target_name"),
    Index(None, "calib_level"),
    Index(None, "t_min"),
)

products = Table(
    "products",
    metadata,
    Column("product_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("productFilename", String(200), nullable=False, unique=True),
    Column("dataURI", String(300), nullable=False, unique=True),
    Column(
        "owner_obsid",
        BigInteger,
        ForeignKey("observations.obsid"),
        comment="Observation whose release date governs this file",
    ),
    Column("obs_collection", String(32), nullable=False),
    Column("dataproduct_type", String(32)),
    Column("description", Text),
    Column("type", String(4), comment="S simple, D derived (MAST's one-letter code)"),
    Column("productType", String(16), nullable=False),
    Column("productGroupDescription", String(64)),
    Column("productSubGroupDescription", String(40)),
    Column("productDocumentationURL", String(300)),
    Column("project", String(32)),
    Column("prvversion", String(32)),
    Column("proposal_id", String(32)),
    Column("size", BigInteger, nullable=False),
    Column("calib_level", Integer),
    Column("filters", String(120)),
    Column("sha256", String(64), nullable=False),
    Column(
        "crc32",
        BigInteger,
        comment="CRC-32 of the file, for zip bundles; NULL until computed (older archives)",
    ),
    Column("storage_key", String(300), nullable=False),
    Column("file_date", String(32), comment="FITS DATE (creation time); decides newer versions"),
    Column("ingested_at", String(32)),
    Index(None, "owner_obsid"),
    Index(None, "proposal_id"),
    Index(None, "storage_key"),  # the storage sweep asks which stored keys a row names
)

product_versions = Table(
    "product_versions",
    metadata,
    Column("version_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("product_id", BigInteger, ForeignKey("products.product_id"), nullable=False),
    Column("productFilename", String(200), nullable=False),
    Column("old_sha256", String(64), nullable=False),
    Column("new_sha256", String(64), nullable=False),
    Column("old_file_date", String(32), comment="FITS DATE of the replaced version"),
    Column("new_file_date", String(32), comment="FITS DATE of the version that replaced it"),
    Column(
        "old_storage_key", String(300), comment="Removed from storage once the new row committed"
    ),
    Column("replaced_at", String(32), nullable=False, comment="ISO UTC time of the replacement"),
    Index(None, "product_id"),
    comment="Replacement history: one row each time a newer version replaced a product's file",
)

# What the archive holds (schema 0012), kept true by the writers in the same transaction as the
# rows they count (``search/summary.py``: ``refresh_summary``), so the home page never counts
# whole tables. NULL keys are stored as '' (a primary key cannot hold NULL).
summary_observations = Table(
    "summary_observations",
    metadata,
    Column("obs_collection", String(32), primary_key=True),
    Column("proposal_id", String(32), primary_key=True, comment="'' for observations without"),
    Column("instrument_name", String(40), primary_key=True, comment="'' when unknown"),
    Column("observations", BigInteger, nullable=False),
)

summary_files = Table(
    "summary_files",
    metadata,
    Column("obs_collection", String(32), primary_key=True),
    Column("proposal_id", String(32), primary_key=True, comment="'' for files without"),
    Column("files", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
)

# The portal's facet counts of a search by program (schema 0032), kept by the same writers in
# the same transaction (``search/facet_summary.py``): one row per program and combination of
# the facets with few values, and one per program and target. NULLs stay NULL (no primary
# key), so a criterion on ``proposal_id`` means here what it means on ``observations``.
_FACET_FEW = ("obs_collection", "instrument_name", "calib_level", "filters", "dataproduct_type",
              "wavelength_region", "intentType")  # fmt: skip


def _observation_counts(name: str, *grouped: str) -> Table:
    """Observations per combination of the ``grouped`` columns (typed as in ``observations``)."""
    return Table(
        name,
        metadata,
        *(Column(column, observations.c[column].type) for column in grouped),
        Column("observations", BigInteger, nullable=False),
        Index(None, grouped[0]),
    )


summary_facets = _observation_counts("summary_facets", "proposal_id", *_FACET_FEW)
summary_targets = _observation_counts("summary_targets", "proposal_id", "target_name")

# The same per release-date bucket (schema 0040): ``release_bucket`` is
# floor(t_obs_release / RELEASE_BUCKET_DAYS), NULL without a release date. The observations not
# public at a moment are the rows of the later buckets (and NULL) read from here plus those of
# the bucket holding the moment, counted live from ``ix_observations_program_release``
# (``search/facet_summary.py``), so a ticked "exclusive" never groups every restricted row.
RELEASE_BUCKET_DAYS = 64


def _release_counts(name: str, *grouped: str) -> Table:
    return Table(
        name,
        metadata,
        Column("proposal_id", observations.c.proposal_id.type),
        Column("release_bucket", Integer, comment="floor(t_obs_release / 64); NULL without"),
        *(Column(column, observations.c[column].type) for column in grouped),
        Column("observations", BigInteger, nullable=False),
        Index(None, "proposal_id", "release_bucket"),
    )


summary_releases = _release_counts("summary_releases", *_FACET_FEW)
summary_release_targets = _release_counts("summary_release_targets", "target_name")

summary_digest = Table(
    "summary_digest",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("figures", Text, nullable=False, comment="JSON, rebuilt with the summary rows"),
)

observation_products = Table(
    "observation_products",
    metadata,
    Column("obsid", BigInteger, ForeignKey("observations.obsid"), primary_key=True),
    Column("product_id", BigInteger, ForeignKey("products.product_id"), primary_key=True),
    Index(None, "product_id"),
)

observation_members = Table(
    "observation_members",
    metadata,
    Column("parent_obsid", BigInteger, ForeignKey("observations.obsid"), primary_key=True),
    Column("member_obsid", BigInteger, ForeignKey("observations.obsid"), primary_key=True),
    Index(None, "member_obsid"),
)

footprint_cells = Table(
    "footprint_cells",
    metadata,
    Column("cell", BigInteger, primary_key=True, comment="HEALPix NESTED index at CELL_DEPTH"),
    Column("obsid", BigInteger, ForeignKey("observations.obsid"), primary_key=True),
    Index(None, "obsid"),
)

#: A plain polygon footprint's vertices as unit vectors, stored beside its ``s_region`` text
#: (schema 0041) so that a cone's exact test reads numbers instead of parsing text: parsing
#: a footprint's numbers cost more than testing it. Written with its cells
#: (``ingest.catalog.replace_footprint``); other footprints (circles, unions, unusual
#: polygons) have no row and are read from their text.
footprint_vertices = Table(
    "footprint_vertices",
    metadata,
    Column("obsid", BigInteger, ForeignKey("observations.obsid"), primary_key=True),
    Column(
        "xyz",
        LargeBinary,
        nullable=False,
        comment="x y z of each vertex, float64 little-endian, open ring",
    ),
)

#: Each observation's row of the MAST API's default columns as JSON text, written by the
#: database itself (schema 0042: triggers on ``observations``, so no writer can forget it),
#: cut around ``dataRights``, which depends on the time of the search and is put in between
#: as it runs: ``head`` is the object up to the column before it, ``tail`` from the column
#: after it (its separator first) to the closing brace. Reading it costs a search a
#: primary-key look-up per row where building the object cost four microseconds
#: (``search/observations.py``, ``STORED_ROW_NAMES``).
observation_json = Table(
    "observation_json",
    metadata,
    Column("obsid", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("head", Text, nullable=False),
    Column("tail", Text, nullable=False),
)
#: The columns of :data:`observation_json`'s rows, in order: ``head``'s, ``dataRights``,
#: ``tail``'s. A revision that changes them rewrites the triggers and the rows.
STORED_JSON_HEAD = (
    "intentType", "obs_collection", "provenance_name", "instrument_name", "project", "filters",
    "wavelength_region", "target_name", "target_classification", "obs_id", "s_ra", "s_dec",
    "dataproduct_type", "proposal_pi", "calib_level", "t_min", "t_max", "t_exptime", "em_min",
    "em_max", "obs_title", "t_obs_release", "proposal_id", "proposal_type", "sequence_number",
    "s_region", "jpegURL", "dataURL",
)  # fmt: skip
STORED_JSON_TAIL = ("mtFlag", "srcDen", "obsid", "objID")

# The keyword store (``search/keyword_store.py``): every primary-header keyword as JSON, and
# typed columns for the keywords searched most; their text is stored lower-case (schema 0014)
# and serves criteria only, rows show the header's own values.
#: The columns of the keyword store's covering index (schema 0019).
COVERING_INDEX_COLUMNS = ("listed_in", "exp_type", "product_id", "filter", "detector", "pupil",
                          "grating", "subarray", "readpatt", "category", "tsovisit", "nints",
                          "ngroups", "effexptm", "expstart")  # fmt: skip
#: Typed keywords the portal's dialogs count by value under an exposure type; each has an
#: index (listed_in, exp_type, <keyword>, product_id, <every other typed keyword>) (schema
#: 0022), so the counts are read in value order from it instead of being grouped in a
#: temporary table. It carries the other typed keywords too: SQLite picks it for the order
#: whatever the other criteria, and must then find them in the index, not in the wide rows.
FACET_INDEX_COLUMNS = ("detector", "filter", "pupil", "grating", "subarray", "readpatt")


def facet_index_name(column: str) -> str:
    return f"ix_product_keywords_listed_in_exp_type_{column}"


def facet_index_columns(column: str) -> tuple[str, ...]:
    lead = ("listed_in", "exp_type", column, "product_id")
    return lead + tuple(name for name in COVERING_INDEX_COLUMNS if name not in lead)


product_keywords = Table(
    "product_keywords",
    metadata,
    Column("product_id", BigInteger, ForeignKey("products.product_id"), primary_key=True),
    Column("header", Text, nullable=False, comment="JSON object of every primary-header keyword"),
    Column("s_region", Text, comment="S_REGION of the science extension"),
    Column("instrume", String(16)),
    Column("detector", String(16)),
    Column("exp_type", String(40)),
    Column("filter", String(16)),
    Column("pupil", String(16)),
    Column("grating", String(16)),
    Column("subarray", String(24)),
    Column("readpatt", String(24)),
    Column("targname", String(120)),
    Column("category", String(16)),
    Column("tsovisit", Boolean),
    Column("nints", Integer),
    Column("ngroups", Integer),
    Column("effexptm", Float),
    Column("expstart", Float),
    Column("date_obs_mjd", Float, comment="DATE-OBS (with TIME-OBS) as MJD (schema 0026)"),
    Column(
        "listed_in",
        String(16),
        comment="Keyword table listing the file (NIRCAM..FGS, GUIDESTAR); NULL: none (schema 0014)",
    ),
    Column(
        "keyword_columns",
        Text,
        comment="JSON: the keyword tables' columns the header fills, as shown (schema 0043)",
    ),
    Column(
        "keyword_column_set",
        String(16),
        comment="Identity of the set of columns keyword_columns holds (schema 0044)",
    ),
    Column(
        "keyword_columns_stamp",
        String(16),
        comment="The code keyword_columns were made by; another's are not read (schema 0043)",
    ),
    Column(
        "archive_members",
        Text,
        comment="JSON members: the archive columns only the file's ingest changes (schema 0045)",
    ),
    # product_id last: a page in product_id order is read from the index without a sort
    Index(None, "listed_in", "product_id"),
    # (listed_in, exp_type, product_id) followed by every other typed keyword (schema 0019):
    # pages of an exposure type come in order from it, and counts and facet counts under
    # criteria on typed keywords read it alone, a narrow copy of the rows (the wide JSON
    # header is never touched).
    Index("ix_product_keywords_listed_in_exp_type_covering", *COVERING_INDEX_COLUMNS),
    Index(None, "listed_in", "filter", "product_id"),
    Index(None, "listed_in", "detector", "product_id"),
    *(Index(facet_index_name(c), *facet_index_columns(c)) for c in FACET_INDEX_COLUMNS),
    # the date dialog's range and sorts on the date read it alone (schema 0026)
    Index(facet_index_name("date_obs_mjd"), "listed_in", "exp_type", "date_obs_mjd", "product_id"),
)


# Files per keyword table and exposure type, kept at ingest (schema 0026): the total of a page
# under no criterion or exposure types only, and the exposure-type dialog's counts, are read
# here instead of counted over tens of thousands of index entries per request.
keyword_counts = Table(
    "keyword_counts",
    metadata,
    Column("listed_in", String(16), primary_key=True, comment="Keyword table (NIRCAM..GUIDESTAR)"),
    Column("exp_type", String(120), primary_key=True, comment="Stored exp_type; '' when none"),
    Column("files", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("user_id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, unique=True, comment="Stored lower-case"),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), comment="argon2; NULL = cannot log in with a password"),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False, comment="Unix time"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True, comment="SHA-256 hex"),
    Column("prefix", String(12), nullable=False, comment="First characters, to recognise it"),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("last_used_at", Float),
    Index(None, "user_id"),
)

program_access = Table(
    "program_access",
    metadata,
    Column("proposal_id", String(32), ForeignKey("programs.proposal_id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), primary_key=True),
    Column("granted_by", Integer, ForeignKey("users.user_id")),
    Column("granted_at", Float, nullable=False),
    Index(None, "user_id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True, comment="SHA-256 of the cookie value"),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_seen_at", Float),
    Column("client_address", String(64), comment="Address the session was started from"),
    Column("user_agent", String(300), comment="Browser the session was started with (truncated)"),
    Index(None, "user_id"),
)

password_resets = Table(
    "password_resets",
    metadata,
    Column("token_hash", String(64), primary_key=True, comment="SHA-256 hex"),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index(None, "user_id"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("failure_id", Integer, primary_key=True),
    Column(
        "key",
        String(64),
        nullable=False,
        comment="SHA-256 of the email and client address, or of the client address alone",
    ),
    Column("at", Float, nullable=False),
    Index(None, "key", "at"),
    Index(None, "at"),  # every new failure prunes those past the window: by this index
)

# Rate limits (schema 0015): one row per counted request, e.g. anonymous staging notices.

rate_events = Table(
    "rate_events",
    metadata,
    Column("event_id", Integer, primary_key=True),
    Column(
        "key",
        String(64),
        nullable=False,
        comment="SHA-256 of what is counted (limit name and recipient or client address)",
    ),
    Column("at", Float, nullable=False),
    Index(None, "key", "at"),
    Index(None, "at"),  # every counted request prunes those past the window: by this index
)

# Job leases (schema 0021): which worker holds a job, until when.

job_leases = Table(
    "job_leases",
    metadata,
    Column("name", String(200), primary_key=True, comment="The job: 'staging:<id>', 'notify'"),
    Column("holder", String(100), nullable=False, comment="host, pid and a random part"),
    Column("expires_at", Float, nullable=False, comment="Unix time; renewed while it runs"),
)

# Delivery (schema 0003): download baskets and delivery requests (bundles, scripts, staging).

baskets = Table(
    "baskets",
    metadata,
    Column("basket_id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), unique=True),
    Column("cookie_hash", String(64), unique=True, comment="SHA-256 of an anonymous cookie"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

basket_items = Table(
    "basket_items",
    metadata,
    Column("basket_id", Integer, ForeignKey("baskets.basket_id"), primary_key=True),
    Column("obsid", BigInteger, ForeignKey("observations.obsid"), primary_key=True),
    Column("added_at", Float, nullable=False),
)

basket_removed = Table(
    "basket_removed",
    metadata,
    Column("basket_id", Integer, ForeignKey("baskets.basket_id"), primary_key=True),
    Column("product_id", BigInteger, ForeignKey("products.product_id"), primary_key=True),
)

delivery_requests = Table(
    "delivery_requests",
    metadata,
    Column("request_id", String(40), primary_key=True, comment="Random, unguessable"),
    Column("user_id", Integer, ForeignKey("users.user_id")),
    Column("basket_id", Integer, ForeignKey("baskets.basket_id")),
    Column("format", String(16), nullable=False, comment="zip|tar|tar.gz|curl|staging"),
    Column("status", String(16), nullable=False, comment="queued|running|done|failed|expired"),
    Column("email", String(254)),
    Column("remove_completed", Boolean, nullable=False, default=False),
    Column("files_total", Integer, nullable=False, default=0),
    Column("bytes_total", BigInteger, nullable=False, default=0),
    Column("error", Text),
    Column("excluded", Text, comment="JSON list of requested files left out, with reasons"),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("expires_at", Float),
    Column("notified_at", Float),
    Column(
        "base_url",
        String(400),
        comment="Public URL of the archive as the requester reached it (for links)",
    ),
    Index(None, "user_id"),
    Index(None, "status"),
)

delivery_files = Table(
    "delivery_files",
    metadata,
    Column("request_id", String(40), ForeignKey("delivery_requests.request_id"), primary_key=True),
    Column("product_id", BigInteger, ForeignKey("products.product_id"), primary_key=True),
    Column("path", String(400), nullable=False, comment="<collection>/<obs_id>/<file>"),
    Column("state", String(16), nullable=False, comment="pending|done|missing"),
    Column("reason", Text),
    Index(None, "request_id", "state"),
)


observation_tokens = Table(
    "observation_tokens",
    metadata,
    Column("column_name", String(32), primary_key=True),
    Column("token", String(120), primary_key=True, comment="One lower-case part of the value"),
    Column("obsid", BigInteger, ForeignKey("observations.obsid"), primary_key=True),
    Index(None, "obsid"),
)

# Case-insensitive criteria compare lower(column); these indexes serve them, the pair for the
# common "mission + instrument" counts as an index-only scan.
Index(
    "ix_observations_lower_collection_instrument",
    func.lower(observations.c.obs_collection),
    func.lower(observations.c.instrument_name),
    # PostgreSQL scans an index alone only when it holds every column named (schema 0008)
    postgresql_include=["obs_collection", "instrument_name"],
)
Index("ix_observations_lower_instrument", func.lower(observations.c.instrument_name))
Index("ix_observations_lower_target", func.lower(observations.c.target_name))
# The portal's facet counts (search/portal_search.py) group by a prefix of one of these narrow
# copies of the facet columns, led by the program, never reading the wide rows (schema 0027).
for _name, _columns in (
    ("ix_observations_facets", ("proposal_id", *_FACET_FEW, "t_obs_release", "target_name")),
    ("ix_observations_program_targets", ("proposal_id", "target_name", *_FACET_FEW,
                                         "t_obs_release")),
):  # fmt: skip
    Index(_name, *(observations.c[c] for c in _columns), postgresql_include=["obsid"])
# The grid's other visible columns (schema 0037): a page of a search by program sorted by one of
# them takes its obsids from this narrow copy, never sorting the 200,000 wide rows it matches.
# (The facet indexes above hold the rest of the grid's columns.)
GRID_SORT_COLUMNS = ("t_min", "t_exptime", "s_ra", "s_dec", "obs_id")
Index("ix_observations_program_sort", observations.c.proposal_id,
      *(observations.c[c] for c in GRID_SORT_COLUMNS), postgresql_include=["obsid"])  # fmt: skip
# A program's observations not public now (the dataRights facet beside the stored counts,
# schema 0032): two ranges of this index per program, the release date moving with time. It
# carries the facet columns (schema 0037), so those rows are grouped by combination and tested
# against ticked values from the index alone (15% of a result in exclusive access: 30,000 rows).
Index("ix_observations_program_release", observations.c.proposal_id,
      observations.c.t_obs_release, *(observations.c[c] for c in (*_FACET_FEW, "target_name")),
      postgresql_include=["obsid"])  # fmt: skip
# The next release instant after now (schema 0038): the answer cache drops its answers then.
Index("ix_observations_t_obs_release", observations.c.t_obs_release)
# One program's observations with one instrument (schema 0007), astroquery's commonest query.
Index(
    "ix_observations_proposal_lower_instrument",
    observations.c.proposal_id,
    func.lower(observations.c.instrument_name),
)

# The exposure a product's file belongs to (schema 0009): keyword search compares a file with
# the other files of its exposure (``search/keyword_search.py``).
EXPOSURE_NAME_LENGTH = 25  # "jw01091002001_03102_00001": program, observation, visit, exposure
Index("ix_products_exposure_name", func.substr(products.c.productFilename, 1, EXPOSURE_NAME_LENGTH))

# Subscriptions (schema 0006): users follow a program's data; events wait in the catalog until
# each subscription's next e-mail. proposal_id has no foreign key: one may subscribe to a
# program before any of its data (or the program itself) is in the archive.

from sqlalchemy import UniqueConstraint  # noqa: E402  (kept with the tables that use it)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False),
    Column("obs_collection", String(32), nullable=False, comment="JWST or HST"),
    Column("proposal_id", String(32), nullable=False, comment="Unpadded, e.g. '1558'"),
    Column("kinds", String(64), nullable=False, comment="Comma-separated: New,First,..."),
    Column("frequency", String(16), nullable=False, comment="fast|daily|weekly|monthly"),
    Column("created_at", Float, nullable=False, comment="Only later events are sent"),
    Column("last_sent_at", Float, comment="Time of the last e-mail"),
    Column("claimed_until", Float, comment="A sender owns it until then (no double sends)"),
    UniqueConstraint("user_id", "obs_collection", "proposal_id"),
    Index(None, "obs_collection", "proposal_id"),
)

notification_events = Table(
    "notification_events",
    metadata,
    Column("event_id", String(36), primary_key=True, comment="uuid4, as in the JSON attachment"),
    Column("obs_collection", String(32), nullable=False),
    Column("proposal_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False, comment="New|First|Reprocessed|Public"),
    Column("filename", String(200), nullable=False),
    Column("fileset", String(200), nullable=False),
    Column("version", String(64), nullable=False, comment="SHA-256, or release MJD for Public"),
    Column("archived_date", String(40), comment="ISO UTC time the file version was archived"),
    Column("release_mjd", Float, comment="Release date of a Public event; NULL: look it up"),
    Column("arrival_checked", Boolean, nullable=False, default=True,
           comment="False for New events not yet checked for being public on arrival"),
    Column("created_at", Float, nullable=False),
    Column("planned_obs_id", String(64),
           comment="New files only: the planned observation their observation carried out"),
    UniqueConstraint("kind", "filename", "version"),
    Index(None, "obs_collection", "proposal_id", "created_at"),
)  # fmt: skip

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column(
        "subscription_id",
        Integer,
        ForeignKey("subscriptions.subscription_id"),
        primary_key=True,
    ),
    Column("event_id", String(36), ForeignKey("notification_events.event_id"), primary_key=True),
    Column("sent_at", Float, nullable=False),
    Index(None, "event_id"),
)

notification_state = Table(
    "notification_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False, comment="e.g. the Unix time of the last release check"),
)

# Facts about the archive itself (schema 0016), shared by every server and worker process: the
# secret that signs links in e-mails, the public URL the server last saw itself reached by.
archive_state = Table(
    "archive_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(400), nullable=False),
    Column("updated_at", Float, nullable=False, comment="Unix time of the last change"),
)

# The catalogue's generation (schema 0038): one row, bumped in the transaction of every write to
# a table that MAST answers read (db/catalogue_generation.py), so each server process can tell
# in one primary-key read whether an answer it keeps is still the catalogue's.
catalogue_generation = Table(
    "catalogue_generation",
    metadata,
    Column("id", Integer, primary_key=True, comment="Always 1: the table holds one row"),
    Column("generation", BigInteger, nullable=False, comment="Bumped by every catalogue write"),
)

# In-portal notices are read from notification_events (the e-mails' one source); a user only
# keeps how far they have read, and the SHA-256 of their secret Atom feed address.
notice_reads = Table(
    "notice_reads",
    metadata,
    Column("user_id", Integer, ForeignKey("users.user_id"), primary_key=True),
    Column("read_until", Float, nullable=False, comment="Notices up to this Unix time are read"),
)

feed_tokens = Table(
    "feed_tokens",
    metadata,
    Column("user_id", Integer, ForeignKey("users.user_id"), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True, comment="SHA-256 hex"),
    Column("created_at", Float, nullable=False),
)

# The engineering database (EDB, schema 0023): an inventory of mnemonics and their samples.
# Samples are one narrow table keyed (mnemonic_id, t_us): SQLite stores it WITHOUT ROWID, so
# the rows themselves are the primary-key B-tree and a time window of one mnemonic is one
# contiguous range read; PostgreSQL reads the same window through the primary-key index from a
# heap that ingest fills in time order. Times are integer microseconds since 1970-01-01 UTC:
# exact, where a float MJD would round microseconds (theTime is shown to the microsecond).
edb_mnemonics = Table(
    "edb_mnemonics",
    metadata,
    Column("mnemonic_id", Integer, primary_key=True),
    Column("mnemonic", String(64), nullable=False, unique=True, comment="Upper case, SA_ZATTEST1"),
    Column("description", Text),
    Column("unit", String(32)),
    Column("subsystem", String(32), comment="From the name: INRS (NIRSpec), SA (attitude)..."),
    Column("sql_data_type", String(16), nullable=False, comment="float, int, tinyint"),
    Column("sample_count", BigInteger, nullable=False, default=0),
    Column("first_us", BigInteger, comment="Time of the first sample, µs since 1970 UTC"),
    Column("last_us", BigInteger, comment="Time of the last sample, µs since 1970 UTC"),
)

edb_samples = Table(
    "edb_samples",
    metadata,
    Column("mnemonic_id", Integer, primary_key=True),
    Column("t_us", BigInteger, primary_key=True, comment="µs since 1970-01-01 UTC"),
    Column("value", Float, nullable=False),
    sqlite_with_rowid=False,
)

# Minimum, maximum and count of the samples per bucket, at a few fixed bucket widths, kept by
# ingest: a plot of a year at 4 Hz (1.3e8 samples) reads a few thousand of these rows.
edb_rollups = Table(
    "edb_rollups",
    metadata,
    Column("mnemonic_id", Integer, primary_key=True),
    Column("width_s", Integer, primary_key=True, comment="Bucket width in seconds"),
    Column("bucket_us", BigInteger, primary_key=True, comment="Bucket start, µs since 1970"),
    Column("min_value", Float, nullable=False),
    Column("max_value", Float, nullable=False),
    Column("samples", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# Wavefront sensing (WSS) products (schema 0024): one row per OPD file, beside its product row,
# with the columns of MAST's Mast.Jwst.Filtered.Wss and the RMS read from RESULT_PHASE at ingest.
wss_products = Table(
    "wss_products",
    metadata,
    Column("product_id", BigInteger, ForeignKey("products.product_id"), primary_key=True),
    Column("corr_id", String(32), nullable=False, comment="Analysis id, R2022083106"),
    Column("apername", String(32), nullable=False, comment="NRCA3_FP1"),
    Column("ap_type", String(16), nullable=False, comment="OPD for wavefront maps"),
    Column("date_obs_mjd", Float, nullable=False, comment="Start of the sensing exposure, MJD"),
    Column("visit_id", String(16), comment="Without the leading V: 01163111001"),
    Column("obs_id", String(64), comment="Its last five characters are the OSS activity"),
    Column("rms_nm", Float, comment="RMS of the OPD over the pupil, nm"),
    Column("released_mjd", Float, nullable=False, comment="Public from (MJD): on arrival"),
    Index(None, "ap_type", "date_obs_mjd"),
    Index(None, "date_obs_mjd"),
)

# Data sets with a DOI (schema 0025, ``doi/``): observations a user gathered, with the
# metadata DataCite asks for; the DOI's state follows DataCite's (draft, registered, findable).
datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", Integer, primary_key=True),
    Column("doi", String(200), nullable=False, unique=True, comment="Lower case, e.g. 10.5072/x"),
    Column("owner_id", Integer, ForeignKey("users.user_id"), nullable=False),
    Column("title", String(500), nullable=False),
    Column("creators", Text, nullable=False, comment="JSON list of names, 'Family, Given'"),
    Column("description", Text, nullable=False),
    Column("related_identifier", String(200), comment="The paper: a DOI or an ADS bibcode"),
    Column("related_type", String(16), comment="DOI | bibcode"),
    Column("state", String(16), nullable=False, comment="draft | registered | findable"),
    Column("agency", String(16), nullable=False, comment="local | datacite"),
    Column("publication_year", Integer, nullable=False),
    Column("observation_count", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

dataset_observations = Table(
    "dataset_observations",
    metadata,
    Column("dataset_id", Integer, ForeignKey("datasets.dataset_id"), primary_key=True),
    Column("obsid", BigInteger, ForeignKey("observations.obsid"), primary_key=True),
)

# Asynchronous TAP jobs (schema 0031, ``vo/uws.py``): UWS 1.1 jobs kept in the catalogue so that
# any server process answers a job's state and any worker process may run it. The result's
# bytes are in storage (``result_key``); the row says what they are.
uws_jobs = Table(
    "uws_jobs",
    metadata,
    Column("job_id", String(40), primary_key=True, comment="Random, unguessable"),
    Column("owner_id", Integer, ForeignKey("users.user_id"), comment="NULL: anonymous"),
    Column("client", String(64), comment="Network address of an anonymous submitter"),
    Column("run_id", String(200)),
    Column("phase", String(12), nullable=False, comment="PENDING|QUEUED|EXECUTING|COMPLETED|..."),
    Column("parameters", Text, nullable=False, comment="JSON object: upper-case name -> value"),
    Column("execution_duration", Integer, nullable=False, comment="Seconds; the limit enforced"),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("destruction_at", Float, nullable=False, comment="Unix time the job is deleted"),
    Column("base_url", String(400), comment="Public URL the job was submitted through"),
    Column("error", Text),
    Column("result_key", String(200), comment="Storage key of the result"),
    Column("result_type", String(100)),
    Column("result_size", BigInteger),
    Column("result_rows", BigInteger),
    Index(None, "owner_id", "created_at"),
    Index(None, "client", "created_at"),
    Index(None, "phase"),
    Index(None, "destruction_at"),
)
