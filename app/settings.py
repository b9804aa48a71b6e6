"""One typed settings object, from environment variables and command-line flags, with offline defaults.

Built once per server and passed down; nothing reads the environment anywhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from engines.agent.config import LlmConfig
from engines.jobs.catalog import JobEnvironment
from engines.nwb.sources import SourcePolicy

__all__ = ["Settings", "BUNDLED_DEMO_FILE", "normalize_prefix", "llm_from_env"]

BUNDLED_DEMO_FILE = Path(__file__).resolve().parent.parent / "assets" / "sub-4_ses-4_ecephys+image.nwb"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _paths(value: str | None) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser() for p in (value or "").split(os.pathsep) if p.strip())


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
    return LlmConfig(model=env.get("NEURODECK_LLM_MODEL", defaults.model), base_url=base_url,
                     api_key=key or "not-needed", vision_model=env.get("NEURODECK_VLM_MODEL") or None,
                     timeout_s=float(env.get("NEURODECK_LLM_TIMEOUT_S", defaults.timeout_s)))


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
    allow_code: bool | None = None
    """Run approved assistant code: None = only when the server listens on loopback; True/False forces it."""
    jupyter_url: str | None = None
    """A Jupyter server to run approved code on instead of local kernels (with ``jupyter_token``)."""
    jupyter_token: str | None = None
    code_time_s: float = 60.0
    code_memory_mb: int = 4096

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read ``NEURODECK_*`` variables; anything unset keeps its default."""
        env = os.environ if env is None else env
        base = cls()
        return replace(
            base,
            workspace=Path(env.get("NEURODECK_WORKSPACE", str(base.workspace))).expanduser(),
            roots=_paths(env.get("NEURODECK_ROOTS")),
            allow_private_urls=_flag(env.get("NEURODECK_ALLOW_PRIVATE_URLS")),
            num_threads=int(env.get("NEURODECK_NUM_THREADS", base.num_threads)),
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
            max_upload_bytes=int(float(env.get("NEURODECK_MAX_UPLOAD_MB", base.max_upload_bytes / 2**20)) * 2**20),
            viewer_debounce_s=float(env.get("NEURODECK_VIEWER_DEBOUNCE_S", base.viewer_debounce_s)),
            allow_code=_flag(env["NEURODECK_ALLOW_CODE"]) if env.get("NEURODECK_ALLOW_CODE") else None,
            jupyter_url=env.get("NEURODECK_JUPYTER_URL") or None,
            jupyter_token=env.get("NEURODECK_JUPYTER_TOKEN") or None,
            code_time_s=float(env.get("NEURODECK_CODE_TIME_S", base.code_time_s)),
            code_memory_mb=int(env.get("NEURODECK_CODE_MEMORY_MB", base.code_memory_mb)),
        )

    def code_execution(self) -> tuple[bool, str]:
        """Whether approved code may run, and why not: a server others can reach needs the operator's yes."""
        if self.allow_code is not None:
            return self.allow_code, "" if self.allow_code else "the operator turned it off"
        if self.address in ("127.0.0.1", "localhost", "::1"):
            return True, ""
        return False, f"the server listens on {self.address}, so others could run code; start it with --allow-code"

    def job_environment(self) -> JobEnvironment:
        """What job kinds of every engine are bound to (the same in the server, workers and Dask)."""
        return JobEnvironment(source_policy=self.source_policy(), llm=self.llm)

    @property
    def allowed_roots(self) -> tuple[Path, ...]:
        """Local files may be read only below these: the configured roots, else workspace + cwd; the demo file always."""
        roots = self.roots or (self.workspace, Path.cwd())
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
