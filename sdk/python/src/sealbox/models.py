"""Small dataclasses mirroring the wire types of ``crates/sealbox-types/src/lib.rs``.

Objects that describe secrets (``Secret``, ``SecretVersion`` ...) never hold a value. The few that
do hold values (``Environment``, ``CreatedToken``) keep them out of ``repr`` and ``str``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterator, List, Optional, Sequence, Type, TypeVar

T = TypeVar("T")


def _from_wire(cls: Type[T], data: Dict[str, Any], **renames: str) -> T:
    """Builds ``cls`` from a wire object, ignoring fields this version does not know."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: Dict[str, Any] = {}
    for key, value in data.items():
        key = renames.get(key, key)
        if key in names:
            kwargs[key] = value
    return cls(**kwargs)


@dataclass(frozen=True)
class Secret:
    """A secret's details: everything but the value. ``details`` holds the non-sensitive fields
    of a structured value (SMTP host, port, username, from; SQS region and queue URL)."""

    name: str
    type: str
    visibility: str
    version: int
    description: str = ""
    metadata: Dict[str, Any] = field(default_factory=dict)
    tags: Dict[str, str] = field(default_factory=dict)
    details: Dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    created_by: str = ""
    updated_at: str = ""
    updated_by: str = ""
    last_used_at: Optional[str] = None
    last_used_by: Optional[str] = None
    deleted_at: Optional[str] = None
    purge_after: Optional[str] = None

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "Secret":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class SecretVersion:
    version: int
    created_at: str
    created_by: str

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "SecretVersion":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class SecretVersions:
    name: str
    current_version: int
    versions: List[SecretVersion]

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "SecretVersions":
        return cls(
            name=data["name"],
            current_version=data["current_version"],
            versions=[SecretVersion.from_wire(v) for v in data.get("versions", [])],
        )


@dataclass(frozen=True)
class ImportResult:
    created: List[str]
    changed: List[str]
    unchanged: List[str]
    dry_run: bool
    #: The secrets in ``changed`` that were not compared (restricted: nobody may read them back).
    not_compared: List[str] = field(default_factory=list)

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "ImportResult":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class WhoAmI:
    workspace: str
    kind: str
    name: str
    role: Optional[str] = None

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "WhoAmI":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class Health:
    """``status`` is ``ok``, or ``sealed`` while the server waits to be unsealed."""

    status: str
    version: str
    sealed: bool = False

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "Health":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class SealStatus:
    """`GET /v1/sys/seal-status`: sealed or not, the key source, and (Shamir) the progress."""

    sealed: bool
    seal: str
    initialized: bool
    progress: int
    threshold: int
    error: Optional[str] = None

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "SealStatus":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class RotationStatus:
    """The keyring's active version and the data keys' progress towards it."""

    active_version: int
    total: int
    done: int
    remaining: int
    rate_per_second: float
    eta_seconds: Optional[int] = None

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "RotationStatus":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class Readiness:
    """`GET /v1/sys/ready` when the server is ready; a 503 raises instead."""

    status: str
    database: str
    migrations: str
    keys: str

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "Readiness":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class Session:
    """What ``Client.login`` signed in to; the session token itself stays inside the client."""

    workspace: str
    role: str
    expires_at: str


@dataclass(frozen=True)
class ExchangedToken:
    """What ``Client.exchange_jwt`` got: an identity's short-lived token, kept inside the client
    (it is not returned)."""

    workspace: str
    identity: str
    expires_at: str


@dataclass(frozen=True)
class WorkspaceSettings:
    """The workspace's token lifetimes in seconds (``None``: no default / no maximum)."""

    workspace: str
    default_token_ttl_seconds: Optional[int] = None
    max_token_ttl_seconds: Optional[int] = None
    updated_at: Optional[str] = None
    updated_by: Optional[str] = None

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "WorkspaceSettings":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class Federation:
    """A trust of an identity in a JWT issuer. ``keys`` is ``discovery`` or ``static``."""

    id: str
    identity: str
    issuer: str
    audience: str
    claims: Dict[str, str] = field(default_factory=dict)
    ttl_seconds: int = 3600
    keys: str = "discovery"
    created_at: str = ""
    created_by: str = ""

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "Federation":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class Member:
    email: str
    role: str
    created_at: str

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "Member":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class SsoSettings:
    """A workspace's single sign-on rules (``client.workspace_sso.get()``). ``create_members`` is
    ``off``, ``editor`` or ``admin``; ``group_roles`` maps a value of the provider's groups claim
    to a role; ``sso_configured`` says whether the server has single sign-on."""

    password_sign_in: bool
    create_members: str
    group_roles: Dict[str, str]
    sso_configured: bool

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "SsoSettings":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class AddedMember:
    member: Member
    # Only when the server generated the password; shown this once, kept out of repr.
    password: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class TokenInfo:
    """A token's details. ``prefix`` is its first 8 characters after ``sbx_`` (``None`` for tokens
    made before they were kept), to match a leaked token to its row."""

    id: str
    name: str
    created_at: str
    expires_at: Optional[str] = None
    last_used_at: Optional[str] = None
    prefix: Optional[str] = None
    #: ``active``, ``expiring`` (within 7 days) or ``expired``.
    state: str = "active"

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "TokenInfo":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class CreatedToken:
    """A new token, shown this once (only its hash is stored). ``token`` is kept out of repr."""

    info: TokenInfo
    token: str = field(repr=False)

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "CreatedToken":
        return cls(info=TokenInfo.from_wire(data), token=data["token"])


@dataclass(frozen=True)
class Identity:
    """A non-human principal. ``env`` holds its own (non-secret) variables."""

    name: str
    tags: Dict[str, str] = field(default_factory=dict)
    env: Dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    created_by: str = ""

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "Identity":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class Policy:
    name: str
    identities: List[str] = field(default_factory=list)
    identity_tags: Dict[str, str] = field(default_factory=dict)
    secret_tags: Dict[str, str] = field(default_factory=dict)
    allow: List[str] = field(default_factory=list)
    created_at: str = ""
    created_by: str = ""

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "Policy":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class Action:
    """A saved action: its definition holds references (``{secrets.NAME}``), never values."""

    name: str
    kind: str
    definition: Dict[str, Any]
    secrets: List[str] = field(default_factory=list)
    inputs: List[str] = field(default_factory=list)
    created_at: str = ""
    created_by: str = ""
    updated_at: str = ""
    updated_by: str = ""

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "Action":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: List[Dict[str, str]]
    body: str

    def header(self, name: str) -> Optional[str]:
        """The first response header called ``name`` (case-insensitive)."""
        for pair in self.headers:
            if pair.get("name", "").lower() == name.lower():
                return pair.get("value")
        return None


@dataclass(frozen=True)
class EmailResult:
    recipients: int
    server_reply: str


@dataclass(frozen=True)
class SqsResult:
    message_id: str
    md5_of_body: Optional[str] = None


@dataclass(frozen=True)
class ActionRun:
    """What a run did. Any referenced secret's value in the destination's reply is already
    ``[REDACTED]`` by the server."""

    action: str
    kind: str
    destination: str
    http: Optional[HttpResult] = None
    email: Optional[EmailResult] = None
    sqs: Optional[SqsResult] = None

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "ActionRun":
        http = data.get("http")
        email = data.get("email")
        sqs = data.get("sqs")
        return cls(
            action=data["action"],
            kind=data["kind"],
            destination=data["destination"],
            http=_from_wire(HttpResult, http) if http else None,
            email=_from_wire(EmailResult, email) if email else None,
            sqs=_from_wire(SqsResult, sqs) if sqs else None,
        )


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: str
    actor: str
    action: str
    target: str
    outcome: str
    request_id: str
    client_addr: str
    detail: Dict[str, Any] = field(default_factory=dict)
    hash: str = ""

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "AuditEvent":
        return _from_wire(cls, data)


@dataclass(frozen=True)
class AuditPage:
    """One page of events; ``more`` is true when more match (page on from the last ``seq``)."""

    events: List[AuditEvent]
    more: bool = False


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    events_checked: int
    first_bad_seq: Optional[int] = None
    problem: Optional[str] = None

    @classmethod
    def from_wire(cls, data: Dict[str, Any]) -> "AuditVerification":
        return _from_wire(cls, data)


class Environment(Mapping):  # type: ignore[type-arg]
    """``NAME -> value`` as ``GET /v1/environment`` handed it out: every secret the caller may read
    (structured values as a JSON object string), an identity's own variables laid over them.

    A read-only mapping (``env.get("KEY")``, ``env["KEY"]``, ``"KEY" in env``, ``to_dict()``).
    ``secret_names`` are the keys whose value is a secret's (the rest are an identity's own,
    non-secret variables); a server that does not say counts every key. Its ``repr`` and ``str``
    name the keys only, never a value.
    """

    __slots__ = ("_variables", "secret_names")

    def __init__(self, variables: Dict[str, str], secrets: Optional[Sequence[str]] = None) -> None:
        self._variables: Dict[str, str] = dict(variables)
        self.secret_names: FrozenSet[str] = frozenset(self._variables if secrets is None else secrets)

    def __getitem__(self, key: str) -> str:
        return self._variables[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)

    def to_dict(self) -> Dict[str, str]:
        """A plain ``dict`` copy, e.g. to pass as ``env=`` to ``subprocess.run`` (values included)."""
        return dict(self._variables)

    def __repr__(self) -> str:
        return f"Environment(keys={sorted(self._variables)!r})"

    __str__ = __repr__
