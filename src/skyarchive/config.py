"""One settings object for the whole archive.

Every setting can come from an environment variable prefixed ``SKYARCHIVE_`` (for example
``SKYARCHIVE_DATABASE_URL``); the CLI's ``--home`` option sets ``home``. Paths that are not given
explicitly live inside the home directory, so one directory holds a whole archive.
"""

from __future__ import annotations

from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_HOME = Path("skyarchive-data")

#: Where links in e-mails and CLI output point when ``base_url`` is not set and no request
#: tells the host: the address ``skyarchive serve`` listens on by default.
LOCAL_URL = "http://127.0.0.1:8000"


class Settings(BaseSettings):
    """Archive configuration (see docs/configuration.md for every field)."""

    model_config = SettingsConfigDict(env_prefix="SKYARCHIVE_", extra="ignore")

    home: Path = Field(default=DEFAULT_HOME, description="Archive home directory.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default a SQLite file `archive.db` in the home (WAL mode).",
    )
    database_read_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a read-only copy of the catalogue (a PostgreSQL streaming "
        "replica) that searches read from; default `database_url`. Everything that writes, "
        "and every access decision on a download, uses `database_url`.",
    )
    storage_path: Path | None = Field(
        default=None,
        description="Directory holding the archived files; default `files/` in the home "
        "(kept for older configurations: `storage_url` says the same and more).",
    )
    storage_url: str | None = Field(
        default=None,
        description="Where the archived files live: `file:///data/archive` (a local directory) "
        "or `s3://bucket/prefix` (an S3-compatible object store, credentials from the standard "
        "AWS_* environment variables); default `storage_path`.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible store other than AWS, e.g. "
        "`http://127.0.0.1:8333` for SeaweedFS; default AWS S3 itself.",
    )
    download_mode: Literal["stream", "redirect"] = Field(
        default="stream",
        description="How single files on object storage are delivered: `stream` (through the "
        "server) or `redirect` (307 to a presigned URL of the store, made after the access "
        "check). Local storage always streams.",
    )
    presigned_url_seconds: int = Field(
        default=300,
        ge=1,
        le=7 * 86_400,
        description="Lifetime (seconds) of a presigned URL handed out in `redirect` mode.",
    )
    base_url: str | None = Field(
        default=None,
        description=(
            "Public URL of the server, written into scripts, manifests and e-mails; default: the "
            "URL each request reached (subscription e-mails: the one signed-in users last "
            f"reached; other work without a request uses {LOCAL_URL})."
        ),
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[],
        description=(
            "Addresses or CIDR networks of reverse proxies whose X-Forwarded-For/-Proto/-Host "
            "headers are believed (comma-separated); default none: the headers are ignored."
        ),
    )
    proxy_headers: Literal["x-forwarded", "forwarded"] = Field(
        default="x-forwarded",
        description=(
            "Which headers the trusted proxies write: 'x-forwarded' (X-Forwarded-For/-Proto/"
            "-Host) or 'forwarded' (RFC 7239 Forwarded: for=...;proto=...;host=...). Only that "
            "kind is read: a proxy passes the other through, so a client could forge it."
        ),
    )
    default_eap_months: int = Field(
        default=12,
        description="Exclusive-access months for GO/GTO programs unless a program sets its own.",
    )
    online_resolver: bool = Field(
        default=False, description="Ask CDS Sesame for names the offline resolvers do not know."
    )
    max_page_size: int = Field(
        default=500_000, description="Largest page size the API accepts in one request."
    )
    answer_cache: bool = Field(
        default=True,
        description="Keep recent MAST search answers in each server process and send them again "
        "while the catalogue and the release dates leave them unchanged.",
    )
    answer_cache_notify: bool = Field(
        default=True,
        description="Learn of catalogue writes as they commit (SQLite's data_version; "
        "PostgreSQL LISTEN/NOTIFY, a listening thread per process) instead of reading the "
        "catalogue's generation on every cached request. Turn off behind PgBouncer in "
        "transaction mode, which cannot LISTEN.",
    )
    answer_cache_mb: float = Field(
        default=64.0,
        ge=0,
        description="Memory (MiB) the MAST answer cache may take in each server process; the "
        "least recently used answers go first, and no answer above an eighth of it is kept.",
    )
    # Two, not four: the searches interleaving at the GIL's switches cost each 10-20 % more
    # CPU with four threads than with two on both databases, for no more throughput; one
    # thread leaves PostgreSQL's round trips unoverlapped (docs/performance.md, eighth pass).
    search_threads: int = Field(
        default=2,
        ge=1,
        description="Threads per server process that run the searches the answer cache "
        "cannot answer (the MAST API's `/api/v0/invoke` and the portal's search, sharing them); "
        "more wait their turn. A few threads spend less CPU per search than one per waiting "
        "request, all passing the GIL round.",
    )
    # On SQLite a search is CPU work of the server process itself, statements included: tried
    # on the event loop first it is spared the hand-off and the GIL passed between a worker
    # thread and the loop, most of a short search's cost under load (docs/performance.md,
    # issue 20's twelfth pass).
    search_on_loop_ms: float = Field(
        default=2.0,
        ge=0,
        le=50,
        description="On SQLite, how long an uncached search (MAST API, portal) may run on the "
        "server's event loop before it is stopped and run again in a search thread; one that "
        "outgrows it sends the next few of its service straight to the threads. 0: always in "
        "a thread. PostgreSQL has its own: postgres_search_on_loop_ms.",
    )
    # On PostgreSQL the hand-off costs the same, but the loop waits for the database meanwhile
    # and serves no one: a fifth less latency for every search, and less CPU a request, yet at
    # 10^6 observations a third less throughput for a cone whose statement takes 0.8 ms
    # (docs/performance.md, issue 20's thirty-third pass). So it is the operator's choice.
    postgres_search_on_loop_ms: float = Field(
        default=0.0,
        ge=0,
        le=50,
        description="On PostgreSQL, search_on_loop_ms: how long an uncached search may run on "
        "the event loop, which waits for its statements meanwhile; the database stops each "
        "statement that runs longer than this (whole milliseconds). Lowers each search's "
        "latency and CPU; lowers a worker's throughput where statements take the database "
        "more than a few tenths of a millisecond. 0 (the default): always in a thread.",
    )
    max_obsids: int = Field(
        default=5_000,
        description="Most obsids one product-list (Mast.Caom.Products), bundle, cURL-script or "
        "staging request may name; more is answered at once with 400 and this number.",
    )
    allow_signup: bool = Field(
        default=True, description="Let visitors create accounts on the portal themselves."
    )
    token_default_days: int = Field(default=10, description="Lifetime of a new API token (days).")
    token_max_days: int = Field(default=60, description="Longest lifetime a token may be given.")
    secure_cookies: bool = Field(
        default=False, description="Mark session cookies Secure (set when serving over HTTPS)."
    )
    login_free_failures: int = Field(
        default=5,
        ge=1,
        description="Wrong passwords one client address may give for one account before it "
        "has to wait.",
    )
    login_delay_seconds: float = Field(
        default=15.0,
        gt=0,
        description="First wait (seconds) after the free failures; it doubles with each further "
        "failure from the same address for the same account.",
    )
    login_max_delay_seconds: float = Field(
        default=3600.0, gt=0, description="Longest wait (seconds) between login attempts."
    )
    login_address_free_failures: int = Field(
        default=50,
        ge=1,
        description="Wrong passwords one client address may give, on all accounts together, "
        "within `login_address_window_seconds` before each further attempt from it has to wait "
        "(as after `login_free_failures`); bounds password spraying.",
    )
    login_address_window_seconds: float = Field(
        default=3600.0,
        gt=0,
        le=86_400,
        description="Window (seconds) in which an address's failures on all accounts count.",
    )
    # The sky behind the portal's sky view (HiPS); see docs/portal.md.
    external_hips_url: str | None = Field(
        default=None,
        description="A HiPS on another server drawn beneath the archive's own in the sky view "
        "(e.g. https://alasky.cds.unistra.fr/DSS/DSS2Merged); off by default: browsers then "
        "load its tiles from there, so it needs the network and CORS.",
    )
    external_hips_order: int = Field(
        default=9, ge=3, le=20, description="Deepest tile order of `external_hips_url`."
    )
    external_hips_format: Literal["jpg", "png"] = Field(
        default="jpg", description="Tile format of `external_hips_url`."
    )
    # The Virtual Observatory services (TAP, SIAv2, cone search, DataLink); see docs/vo.md.
    vo_authority: str = Field(
        default="skyarchive.invalid",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._~-]{2,}$",
        description="IVOA naming authority of this archive: publisher DIDs read "
        "`ivo://<vo_authority>/jwst?<file>`. Register your own (e.g. `archive.example.org`) "
        "before publishing to the IVOA registry; the default is a reserved name that never "
        "resolves.",
    )
    vo_title: str = Field(
        default="skyarchive: JWST observations",
        max_length=200,
        description="The archive's name in its IVOA registry record (`/vo/registry`).",
    )
    vo_publisher: str = Field(
        default="skyarchive",
        max_length=200,
        description="Organisation publishing the archive, named in its registry record.",
    )
    vo_contact_name: str = Field(
        default="Archive operator",
        max_length=200,
        description="Who answers questions about the archive (its registry record's contact).",
    )
    vo_contact_email: str | None = Field(
        default=None,
        max_length=200,
        description="E-mail address of that contact; default `mail_from`.",
    )
    # Delivery (bundles, staging, e-mail); see docs/delivery.md.
    max_bundle_bytes: int = Field(
        default=10 * 1024**3,
        description="Largest selection one streamed zip/tar bundle may hold (bytes).",
    )
    staging_path: Path | None = Field(
        default=None, description="Where batch staging puts files; default `staging/` in the home."
    )
    staging_days: float = Field(
        default=14.0,
        description="Days a finished staging area and its link last; then the files are removed.",
    )
    staging_pause: float = Field(
        default=0.0, description="Seconds staging waits after each file (throttles its disk load)."
    )
    anonymous_staging_per_recipient: int = Field(
        default=5,
        ge=1,
        description="Staging requests anonymous callers may make per hour for one e-mail "
        "address (each one mails it a notice); more are answered 429 with Retry-After.",
    )
    anonymous_staging_per_address: int = Field(
        default=20,
        ge=1,
        description="Staging requests anonymous callers may make per hour from one client "
        "address, whatever e-mail they give; more are answered 429 with Retry-After.",
    )
    anonymous_basket_days: float = Field(
        default=30.0,
        gt=0,
        description="Days an anonymous basket lives after its last change (and its cookie after "
        "it is set); then `skyarchive basket-cleanup` and the worker remove it. Users' baskets "
        "never expire.",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL for the job queue; default a SQLite queue in the home."
    )
    worker_threads: int = Field(default=2, description="Threads of `skyarchive worker`.")
    job_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a worker's hold on a job lasts unless renewed (it renews after "
        "each staged file); a killed worker's job is taken over by another this long after.",
    )
    tap_sync_maxrec: int = Field(
        default=100_000,
        ge=1,
        description="Most rows a synchronous TAP answer (and a SIAv2 answer) holds, whatever "
        "MAXREC asks: the hard limit the VOSI capabilities announce; a larger answer says "
        "OVERFLOW (ask an asynchronous job for more).",
    )
    tap_sync_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest run of a synchronous TAP (or SIAv2) query; one still running then "
        "is stopped and answered 413 with a hint to narrow it or run it as an asynchronous job.",
    )
    tap_async_execution_seconds: int = Field(
        default=600,
        ge=1,
        description="Longest run of an asynchronous TAP job (UWS `executionduration`): the "
        "default a job gets and the most a client may ask for; a job still running then ends "
        "in ERROR.",
    )
    tap_async_destruction_days: float = Field(
        default=7.0,
        gt=0,
        description="Days an asynchronous TAP job and its result are kept after submission "
        "(UWS `destruction`; a client may ask for less); then the worker deletes both.",
    )
    tap_async_jobs_per_owner: int = Field(
        default=100,
        ge=1,
        description="Asynchronous TAP jobs one user (or, for anonymous jobs, one client "
        "address) may hold at once; more are answered 429 until some are deleted or destroyed.",
    )
    tap_async_max_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Most rows an asynchronous TAP result holds (a larger MAXREC is lowered to "
        "this; a result cut here says OVERFLOW).",
    )
    tap_async_max_result_bytes: int = Field(
        default=1024**3,
        ge=1,
        description="Largest asynchronous TAP result kept, in bytes; a larger one ends the job "
        "in ERROR, telling the client to ask for fewer rows or columns.",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for notices; default: maildir `outbox/` in the home."
    )
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_user: str | None = Field(default=None, description="SMTP login name.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS with the SMTP server.")
    mail_from: str = Field(default="skyarchive@localhost", description="Sender address of notices.")
    doi_prefix: str = Field(
        default="10.5072",
        pattern=r"^10\.\d{4,9}$",
        description="DOI prefix of the archive's data-set DOIs (the one the registration agency "
        "assigned; the default is DataCite's test prefix).",
    )
    doi_publisher: str = Field(
        default="skyarchive", description="Publisher named in data-set DOI metadata and citations."
    )
    datacite_url: str | None = Field(
        default=None,
        description="DataCite REST API (e.g. `https://api.test.datacite.org`); unset: DOIs stay "
        "local drafts whose DataCite JSON is exported for registration by hand.",
    )
    datacite_user: str | None = Field(default=None, description="DataCite repository account.")
    datacite_password: SecretStr | None = Field(
        default=None, description="DataCite repository password (never logged or shown)."
    )

    @field_validator("storage_url")
    @classmethod
    def _check_storage_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("file://", "s3://")):
            raise ValueError(f"{value!r} is neither file:///path/to/dir nor s3://bucket/prefix.")
        return value

    @field_validator("external_hips_url")
    @classmethod
    def _check_external_hips(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{value!r} is not an http(s) URL of a HiPS.")
            return value.rstrip("/")
        return value

    @property
    def external_hips_origin(self) -> str | None:
        """``scheme://host[:port]`` of ``external_hips_url``, for the page policy's img-src."""
        if not self.external_hips_url:
            return None
        parts = urlsplit(self.external_hips_url)
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", ",").split(",") if part]
        if isinstance(value, list | tuple):
            for entry in value:
                try:
                    ip_network(str(entry).strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"{entry!r} is not an IP address or CIDR network "
                        "(e.g. 10.0.0.5 or 10.0.0.0/8)."
                    ) from None
            return [str(entry).strip() for entry in value]
        return value

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return tuple(ip_network(entry, strict=False) for entry in self.trusted_proxies)

    @property
    def offline_base_url(self) -> str:
        """The base URL for links made without a request (e-mails, CLI): ``base_url`` or local."""
        return (self.base_url or LOCAL_URL).rstrip("/")

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'archive.db').resolve()}"

    @cached_property
    def resolved_storage_url(self) -> str:
        """``storage_url``, or the local directory of ``storage_path`` as a file:// URL."""
        if self.storage_url:
            return self.storage_url
        return self.resolved_storage_path.as_uri()

    @cached_property
    def resolved_storage_path(self) -> Path:
        """The local storage directory (``storage_url`` of file://, else ``storage_path``)."""
        if self.storage_url and self.storage_url.startswith("file://"):
            return Path(url2pathname(urlsplit(self.storage_url).path)).resolve()
        return (self.storage_path or self.home / "files").resolve()

    @cached_property
    def resolved_staging_path(self) -> Path:
        return (self.staging_path or self.home / "staging").resolve()

    def ensure_home(self) -> None:
        """Create the home and storage directories if they are missing."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.resolved_storage_url.startswith("file://"):
            self.resolved_storage_path.mkdir(parents=True, exist_ok=True)
