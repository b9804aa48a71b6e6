"""One typed settings object, from environment variables and command-line flags, with offline defaults.

Built once per server and passed down; nothing reads the environment anywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from engines.agent.config import LlmConfig
from engines.io.policy import SourcePolicy
from engines.jobs.catalog import JobEnvironment
from engines.people import ANONYMOUS, LOCAL_USER, Person

__all__ = ["Settings", "LIMITS", "BUNDLED_DEMO_FILE", "normalize_prefix", "llm_from_env"]

BUNDLED_DEMO_FILE = Path(__file__).resolve().parent.parent / "assets" / "sub-4_ses-4_ecephys+image.nwb"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _paths(value: str | None) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser() for p in (value or "").split(os.pathsep) if p.strip())


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (value or "").split(",") if n.strip())


def normalize_prefix(text: str) -> str:
    """``neurodeck/`` -> ``/neurodeck``; '' and '/' mean no prefix."""
    text = (text or "").strip().strip("/")
    return f"/{text}" if text else ""


def llm_from_env(env: Mapping[str, str]) -> LlmConfig | None:
    """A model endpoint when ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` is set (local servers need no key)."""
    key, base_url = env.get("OPENAI_API_KEY") or None, env.get("OPENAI_BASE_URL") or None
    if key is None and base_url is None:
        return None
    defaults = LlmConfig()
    return LlmConfig(
        model=env.get("NEURODECK_LLM_MODEL", defaults.model),
        base_url=base_url,
        api_key=key or "not-needed",
        vision_model=env.get("NEURODECK_VLM_MODEL") or None,
        chat_images=_flag(env.get("NEURODECK_LLM_IMAGES")),
        timeout_s=float(env.get("NEURODECK_LLM_TIMEOUT_S", defaults.timeout_s)),
    )


LIMITS = (
    "sql_max_rows",
    "sql_timeout_s",
    "max_runs_per_user",
    "max_runs_total",
    "max_train_steps",
    "max_train_window_s",
    "max_train_processes",
    "model_calls_per_hour",
    "max_model_workers",
    "jobs_per_minute",
)
"""The per-user and per-server limits: each set by ``--name-with-dashes`` or ``NEURODECK_NAME``."""


@dataclass(frozen=True)
class Settings:
    """Everything an operator can configure. Defaults work offline with the bundled demo file."""

    workspace: Path = field(default_factory=lambda: Path("~/.neurodeck").expanduser())
    roots: tuple[Path, ...] = ()
    allow_private_urls: bool = False
    address: str = "127.0.0.1"
    port: int = 5006
    show: bool = True
    websocket_origins: tuple[str, ...] = ()
    num_threads: int = 4
    num_procs: int = 1
    """Server processes sharing the port and the workspace (``--num-procs``; Panel's ``--num-procs``)."""
    max_viewers: int = 200
    """Neuroglancer viewers streaming at once per server process (``--max-viewers``); each holds 3 file
    handles."""
    session_lifetime_s: float = 15.0
    """How long a closed tab's session is kept before it is discarded and its memory, threads and files go
    back (``--session-lifetime``; Bokeh's unused-session lifetime, checked as often as that, at most every
    17 s). Shorter frees a busy server sooner; a tab whose network drops for longer must reload."""
    request_timeout_s: float = 10.0
    default_source: str = str(BUNDLED_DEMO_FILE)
    s3_endpoint_url: str | None = None
    gs_endpoint_url: str = "https://storage.googleapis.com"
    dandi_api_url: str = "https://api.dandiarchive.org/api"
    workers: int = 2
    dask_address: str | None = None
    prefix: str = ""
    """Path the app is served under behind a reverse proxy (``/neurodeck``); '' serves at the root."""
    use_xheaders: bool = False
    """Trust X-Forwarded-* headers (set when a reverse proxy is in front)."""
    llm: LlmConfig | None = None
    """The model endpoint for chats and the VLM judge; None: offline (rule-based planner, metrics judge)."""
    max_upload_bytes: int = 50 * 2**20
    """Largest file a user may upload (CSV tables); larger files can be opened from a --root folder."""
    viewer_debounce_s: float = 1.0
    """How long the viewer waits after the user's last pan or zoom before the agent sees the new view."""
    auth: str = "token"
    """Sign-in: ``token`` (a random token kept in the workspace), ``password`` (a hashed password file),
    ``oauth`` (Panel's OAuth providers) or ``none`` (nobody signs in: for one local user only)."""
    token: str | None = None
    """``--auth token``: the token (``NEURODECK_TOKEN``); default: a random one kept in
    ``<workspace>/auth/token``."""
    password_file: Path | None = None
    """``--auth password``: lines ``user:scrypt$...`` (``run.py passwd USER`` adds one); default
    ``<workspace>/passwords``."""
    oauth_provider: str | None = None
    oauth_key: str | None = None
    oauth_secret: str | None = None
    oauth_extra_params: dict = field(default_factory=dict)
    cookie_secret: str | None = None
    """Signs the sign-in cookie; default: a random secret kept in the workspace (0600)."""
    admins: tuple[str, ...] = ()
    """Users who may stop, delete or cancel anyone's runs and jobs (``--admin USER``, repeatable)."""
    code_users: tuple[str, ...] = ()
    """Users allowed to run approved assistant code besides the admins (``--code-users USER``, repeatable)."""
    allow_code: bool = True
    """``--no-code`` turns approved code off for everyone."""
    kernel_env_allow: tuple[str, ...] = ()
    """Extra environment variables the code kernel may inherit (it starts with secrets scrubbed)."""
    jupyter_url: str | None = None
    """A Jupyter server to run approved code on instead of local kernels (with ``jupyter_token``)."""
    jupyter_token: str | None = None
    """From ``NEURODECK_JUPYTER_TOKEN`` or ``--jupyter-token-file``; never a command-line argument."""
    code_time_s: float = 60.0
    code_memory_mb: int = 4096
    trust_pickles: bool = False
    """Let analyzers be opened by unpickling their recording/extension files (runs code from the folder)."""
    unitrefine_models: Path | None = None
    """A folder of UnitRefine model folders (``--unitrefine-models``) under the roots or the workspace; the
    Units & labels tab offers them. None: no UnitRefine labels (models are never downloaded)."""
    unitrefine_trusted_types: tuple[str, ...] = ()
    """Types a UnitRefine model may hold beyond the built-in list (``--unitrefine-trust-type``): loading them
    can run code from the model file, so only the operator extends the list, never a page user."""
    viewer_credentials: bool = False
    """Let the Neuroglancer viewer hand the server's data-source credentials to browsers (off by default)."""
    sql_max_rows: int = 100_000
    """Rows kept from one SQL query (a larger result is cut, and says so)."""
    sql_timeout_s: float = 10.0
    """Time one SQL query may take before it is stopped."""
    max_runs_per_user: int = 2
    """Training runs one user may have going at once."""
    max_runs_total: int = 4
    """Training runs the server may have going at once."""
    max_train_steps: int = 20_000
    max_train_window_s: float = 60.0
    max_train_processes: int = 4
    model_calls_per_hour: int = 300
    """Model calls (chat turns, VLM judgements) one user may make per hour."""
    max_model_workers: int = 8
    """Most parallel model calls one request may fan out to."""
    jobs_per_minute: int = 30
    """Job submissions one user may make per minute."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``NEURODECK_*`` variables; anything unset keeps its default."""
        env = os.environ if env is None else env
        base = cls()
        return replace(
            base,
            workspace=Path(env.get("NEURODECK_WORKSPACE", str(base.workspace))).expanduser(),
            roots=_paths(env.get("NEURODECK_ROOTS")),
            allow_private_urls=_flag(env.get("NEURODECK_ALLOW_PRIVATE_URLS")),
            num_threads=int(env.get("NEURODECK_NUM_THREADS", base.num_threads)),
            num_procs=int(env.get("NEURODECK_NUM_PROCS", base.num_procs)),
            max_viewers=int(env.get("NEURODECK_MAX_VIEWERS", base.max_viewers)),
            session_lifetime_s=float(env.get("NEURODECK_SESSION_LIFETIME_S", base.session_lifetime_s)),
            request_timeout_s=float(env.get("NEURODECK_REQUEST_TIMEOUT_S", base.request_timeout_s)),
            default_source=env.get("NEURODECK_DEFAULT_SOURCE", base.default_source),
            s3_endpoint_url=env.get("NEURODECK_S3_ENDPOINT_URL") or None,
            gs_endpoint_url=env.get("NEURODECK_GS_ENDPOINT_URL", base.gs_endpoint_url),
            dandi_api_url=env.get("NEURODECK_DANDI_API_URL", base.dandi_api_url),
            workers=int(env.get("NEURODECK_WORKERS", base.workers)),
            dask_address=env.get("NEURODECK_DASK") or None,
            prefix=normalize_prefix(env.get("NEURODECK_PREFIX", "")),
            use_xheaders=_flag(env.get("NEURODECK_USE_XHEADERS")),
            llm=llm_from_env(env),
            max_upload_bytes=int(
                float(env.get("NEURODECK_MAX_UPLOAD_MB", base.max_upload_bytes / 2**20)) * 2**20
            ),
            viewer_debounce_s=float(env.get("NEURODECK_VIEWER_DEBOUNCE_S", base.viewer_debounce_s)),
            auth=env.get("NEURODECK_AUTH", base.auth),
            password_file=Path(env["NEURODECK_PASSWORD_FILE"]).expanduser()
            if env.get("NEURODECK_PASSWORD_FILE")
            else None,
            token=env.get("NEURODECK_TOKEN") or None,
            cookie_secret=env.get("NEURODECK_COOKIE_SECRET") or env.get("PANEL_COOKIE_SECRET") or None,
            oauth_provider=env.get("PANEL_OAUTH_PROVIDER") or None,
            oauth_key=env.get("PANEL_OAUTH_KEY") or None,
            oauth_secret=env.get("PANEL_OAUTH_SECRET") or None,
            admins=_names(env.get("NEURODECK_ADMINS")),
            code_users=_names(env.get("NEURODECK_CODE_USERS")),
            allow_code=not _flag(env.get("NEURODECK_NO_CODE")),
            kernel_env_allow=_names(env.get("NEURODECK_KERNEL_ENV_ALLOW")),
            trust_pickles=_flag(env.get("NEURODECK_TRUST_PICKLES")),
            unitrefine_models=Path(env["NEURODECK_UNITREFINE_MODELS"]).expanduser()
            if env.get("NEURODECK_UNITREFINE_MODELS")
            else None,
            unitrefine_trusted_types=_names(env.get("NEURODECK_UNITREFINE_TRUSTED_TYPES")),
            **{
                name: type(getattr(base, name))(env[f"NEURODECK_{name.upper()}"])
                for name in LIMITS
                if env.get(f"NEURODECK_{name.upper()}")
            },
            viewer_credentials=_flag(env.get("NEURODECK_VIEWER_CREDENTIALS")),
            jupyter_url=env.get("NEURODECK_JUPYTER_URL") or None,
            jupyter_token=env.get("NEURODECK_JUPYTER_TOKEN") or None,
            code_time_s=float(env.get("NEURODECK_CODE_TIME_S", base.code_time_s)),
            code_memory_mb=int(env.get("NEURODECK_CODE_MEMORY_MB", base.code_memory_mb)),
        )

    @property
    def behind_proxy(self) -> bool:
        """Served through a reverse proxy or to other sites: whoever reaches 127.0.0.1 is not only the
        operator."""
        return bool(self.prefix) or self.use_xheaders or bool(self.websocket_origins)

    def is_admin(self, user: str) -> bool:
        """Admins by name; with token sign-in, the token holder (the operator) too."""
        return user in self.admins or (self.auth == "token" and user == LOCAL_USER)

    def person(self, user: str | None) -> Person:
        """The ``Person`` for a signed-in user name (``anonymous`` when nobody signed in)."""
        name = user or ANONYMOUS
        return Person(name=name, is_admin=self.is_admin(name))

    def code_execution(self, person: Person) -> tuple[bool, str]:
        """Whether ``person`` may run approved code, and why not. Decided from who is signed in, never from
        the bind address: named users (``--code-users``, ``--admin``) may; the token holder may unless the
        server is behind a proxy; nobody else."""
        if not self.allow_code:
            return False, "the operator turned code execution off"
        if person.name in self.code_users or person.name in self.admins:
            return True, ""
        if person.is_admin and not self.behind_proxy:
            return True, ""
        if person.is_admin:
            return False, (
                "this server is reached through a proxy or other sites, so code runs only for users "
                "the operator names (--code-users USER)"
            )
        return (
            False,
            f"code execution is not enabled for {person.name}; the operator can allow it (--code-users)",
        )

    def job_environment(self) -> JobEnvironment:
        """What job kinds of every engine are bound to (the same in the server, workers and Dask)."""
        return JobEnvironment(
            source_policy=self.source_policy(), llm=self.llm, trust_pickles=self.trust_pickles
        )

    @property
    def allowed_roots(self) -> tuple[Path, ...]:
        """Local files may be read only below these: the configured roots, else the workspace; the demo
        always."""
        roots = self.roots or (self.workspace,)
        return (*roots, BUNDLED_DEMO_FILE.parent)

    def source_policy(self) -> SourcePolicy:
        return SourcePolicy(
            workspace=self.workspace,
            allowed_roots=self.allowed_roots,
            allow_private_urls=self.allow_private_urls,
            request_timeout_s=self.request_timeout_s,
            s3_endpoint_url=self.s3_endpoint_url,
            gs_endpoint_url=self.gs_endpoint_url,
            dandi_api_url=self.dandi_api_url,
        )
