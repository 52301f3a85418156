"""The client: one method per route of the HTTP API (``docs/api.md``), standard library only."""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import __version__
from .errors import ClientArgumentError, SealboxError, TransportError, error_class
from .models import (
    Action,
    ActionRun,
    AddedMember,
    AuditEvent,
    AuditPage,
    AuditVerification,
    CreatedToken,
    Environment,
    ExchangedToken,
    Federation,
    Health,
    Readiness,
    RotationStatus,
    SealStatus,
    Identity,
    ImportResult,
    Member,
    Policy,
    Secret,
    SecretVersions,
    Session,
    SsoSettings,
    TokenInfo,
    WhoAmI,
    WorkspaceSettings,
)

DEFAULT_ADDR = "http://127.0.0.1:8270"
Value = Union[str, Mapping[str, Any]]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A bearer token is never carried along a redirect: a 3xx comes back as an error."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def _value_to_str(value: Any) -> str:
    # Structured values come as JSON objects; hand them out as the environment does, a JSON string.
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


#: A parameter left out (as opposed to ``None``, which removes a setting).
_UNCHANGED: Any = object()


class Client:
    """A connection to one Sealbox server with one bearer token.

    ``addr`` and ``token`` default to ``SEALBOX_ADDR`` and ``SEALBOX_TOKEN``; ``workspace`` (or
    ``SEALBOX_WORKSPACE``) is only used by ``login`` (a token already decides its workspace).
    The token is never logged and never appears in ``repr`` or in an exception.
    """

    def __init__(
        self,
        addr: Optional[str] = None,
        token: Optional[str] = None,
        workspace: Optional[str] = None,
        timeout: float = 10.0,
    ) -> None:
        addr = addr if addr is not None else os.environ.get("SEALBOX_ADDR") or DEFAULT_ADDR
        token = token if token is not None else os.environ.get("SEALBOX_TOKEN") or None
        workspace = workspace if workspace is not None else os.environ.get("SEALBOX_WORKSPACE") or None
        parsed = urllib.parse.urlsplit(addr)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ClientArgumentError(
                "client.invalid_argument",
                f"invalid server address {addr!r}: use http://HOST:PORT or https://HOST",
            )
        if parsed.query or parsed.fragment:
            raise ClientArgumentError(
                "client.invalid_argument",
                f"invalid server address {addr!r}: it must not carry a query or a fragment",
            )
        if token is not None:
            _check_token(token)
        if timeout <= 0:
            raise ClientArgumentError("client.invalid_argument", "timeout must be a positive number of seconds")
        self._base = addr.rstrip("/")
        self.__token = token
        self.workspace = workspace
        self.timeout = float(timeout)
        self._opener = urllib.request.build_opener(_NoRedirect())
        self.secrets = Secrets(self)
        self.identities = Identities(self)
        self.policies = Policies(self)
        self.actions = Actions(self)
        self.audit = Audit(self)
        self.members = Members(self)
        self.tokens = Tokens(self)
        self.workspace_sso = WorkspaceSso(self)
        self._context: Optional["Context"] = None

    def __repr__(self) -> str:
        token = "[redacted]" if self.__token else None
        return f"Client(addr={self._base!r}, token={token!r}, workspace={self.workspace!r})"

    __str__ = __repr__

    @property
    def addr(self) -> str:
        return self._base

    @property
    def has_token(self) -> bool:
        return self.__token is not None

    def with_token(self, token: Optional[str]) -> "Client":
        """The same server with another token (e.g. an identity's)."""
        return Client(addr=self._base, token=token, workspace=self.workspace, timeout=self.timeout)

    @property
    def context(self) -> "Context":
        """The caller's context (``client.context.environment.get("KEY")``), fetched once."""
        if self._context is None:
            self._context = Context(client=self)
        return self._context

    # ---- system and auth ----

    def health(self) -> Health:
        return Health.from_wire(self._request("GET", ["sys", "health"], auth=False))

    def ready(self) -> Readiness:
        """Readiness: the database answers, migrations are applied, keys are loaded. While the
        database is down the server answers 503 `store.unavailable`, raised as an error."""
        return Readiness.from_wire(self._request("GET", ["sys", "ready"], auth=False))

    def seal_status(self) -> SealStatus:
        """Whether the server is sealed, its key source and (Shamir) the shares it holds."""
        return SealStatus.from_wire(self._request("GET", ["sys", "seal-status"], auth=False))

    def unseal(self, share: Optional[str] = None, passphrase: Optional[str] = None) -> SealStatus:
        """One unseal step: a Shamir share, the passphrase, or neither for a source that unseals
        by itself. A wrong set of shares or passphrase raises `seal.wrong_key`."""
        body: Dict[str, Any] = {}
        if share is not None:
            body["share"] = share
        if passphrase is not None:
            body["passphrase"] = passphrase
        return SealStatus.from_wire(self._request("POST", ["sys", "unseal"], body=body, auth=False))

    def seal(self) -> None:
        """Seals the server: it drops every key (owners of the server's first workspace)."""
        self._request("POST", ["sys", "seal"])

    def rotate(self) -> RotationStatus:
        """A new keyring version, active at once; stored data keys are rewrapped in the
        background (owners of the server's first workspace)."""
        return RotationStatus.from_wire(self._request("POST", ["sys", "rotate"]))

    def rotation_status(self) -> RotationStatus:
        return RotationStatus.from_wire(self._request("GET", ["sys", "rotate"]))

    def login(self, email: str, password: str, workspace: Optional[str] = None) -> Session:
        """Signs in and keeps the session token in this client (it is not returned)."""
        body: Dict[str, Any] = {"email": email, "password": password}
        ws = workspace if workspace is not None else self.workspace
        if ws is not None:
            body["workspace"] = ws
        data = self._request("POST", ["auth", "login"], body=body, auth=False)
        token = data["token"]
        _check_token(token)
        self.__token = token
        self.workspace = data["workspace"]
        return Session(workspace=data["workspace"], role=data["role"], expires_at=data["expires_at"])

    def exchange_jwt(self, jwt: str, identity: str, workspace: Optional[str] = None) -> ExchangedToken:
        """Exchanges a platform's JWT (GitHub Actions, GitLab CI, a Kubernetes service account ...)
        for a short-lived token of ``identity``, which must trust its issuer, and keeps that token
        in this client (it is not returned). ``workspace`` defaults to the client's, else
        ``default``. The JWT is never kept, logged or put in an exception."""
        ws = workspace if workspace is not None else (self.workspace or "default")
        body = {"workspace": ws, "identity": identity, "jwt": jwt}
        data = self._request("POST", ["auth", "jwt"], body=body, auth=False)
        token = data["token"]
        _check_token(token)
        self.__token = token
        self.workspace = data["workspace"]
        self._context = None
        return ExchangedToken(workspace=data["workspace"], identity=data["identity"], expires_at=data["expires_at"])

    def workspace_settings(self) -> WorkspaceSettings:
        """The workspace's token lifetimes (any member)."""
        return WorkspaceSettings.from_wire(self._request("GET", ["workspace", "settings"]))

    def update_workspace_settings(
        self,
        default_token_ttl_seconds: Any = _UNCHANGED,
        max_token_ttl_seconds: Any = _UNCHANGED,
    ) -> WorkspaceSettings:
        """Changes the workspace's token lifetimes (owners and admins): a lifetime in seconds, or
        ``None`` to remove it; one not given stays as it is."""
        body: Dict[str, Any] = {}
        if default_token_ttl_seconds is not _UNCHANGED:
            body["default_token_ttl_seconds"] = default_token_ttl_seconds
        if max_token_ttl_seconds is not _UNCHANGED:
            body["max_token_ttl_seconds"] = max_token_ttl_seconds
        return WorkspaceSettings.from_wire(self._request("PATCH", ["workspace", "settings"], body=body))

    def logout(self) -> None:
        """Revokes the calling token and forgets it."""
        self._request("POST", ["auth", "logout"])
        self.__token = None

    def whoami(self) -> WhoAmI:
        return WhoAmI.from_wire(self._request("GET", ["auth", "whoami"]))

    # ---- using secrets ----

    def environment(self, only: Optional[Sequence[str]] = None) -> Environment:
        """``GET /v1/environment`` now (``client.context.environment`` caches it). With ``only``,
        just those variables: the server reads, audits and marks as used only those secrets, and
        refuses (``environment.only_invalid``) a name the caller has no variable for."""
        query = None
        if only is not None:
            if isinstance(only, str):
                only = [only]
            query = [("only", ",".join(only))]
        data = self._request("GET", ["environment"], query=query)
        return Environment(data.get("variables", {}), data.get("secrets"))

    def render(self, template: str) -> str:
        """Renders ``{secrets.NAME}`` / ``{secrets.NAME.field}`` server-side; the result holds values."""
        return str(self._request("POST", ["render"], body={"template": template})["rendered"])

    def import_secrets(
        self,
        secrets: Mapping[str, str],
        dry_run: bool = False,
        tags: Optional[Mapping[str, str]] = None,
    ) -> ImportResult:
        """Creates or updates text secrets from ``NAME -> value``, compared server-side where the
        caller may reveal them: restricted secrets are never compared, they come back in
        ``changed`` and ``not_compared`` and are replaced. ``tags`` go on the secrets the import
        creates (existing ones keep theirs). Every import, dry run included, is audited as one
        ``secret.import`` event."""
        body: Dict[str, Any] = {"secrets": dict(secrets), "dry_run": dry_run}
        if tags:
            body["tags"] = dict(tags)
        return ImportResult.from_wire(self._request("POST", ["import"], body=body))

    # ---- plumbing ----

    def _request(
        self,
        method: str,
        segments: Sequence[str],
        body: Any = None,
        query: Optional[Iterable[Tuple[str, str]]] = None,
        auth: bool = True,
    ) -> Any:
        url = self._base + "/v1/" + "/".join(_segment(s) for s in segments)
        if query:
            encoded = urllib.parse.urlencode(list(query))
            if encoded:
                url += "?" + encoded
        headers = {"Accept": "application/json", "User-Agent": f"sealbox-python/{__version__}"}
        data: Optional[bytes] = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth and self.__token is not None:
            headers["Authorization"] = "Bearer " + self.__token
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                status = resp.status
                raw = resp.read()
                request_id = resp.headers.get("x-request-id")
        except urllib.error.HTTPError as e:
            try:
                raw = e.read()
            finally:
                e.close()
            raise _api_error(e.code, raw, e.headers.get("x-request-id") if e.headers else None) from None
        except (socket.timeout, TimeoutError):
            raise TransportError(
                "client.timeout",
                f"no answer from the sealbox server at {self._base} within {self.timeout:g}s; "
                "check that it is running or raise the timeout",
            ) from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise TransportError(
                    "client.timeout",
                    f"no answer from the sealbox server at {self._base} within {self.timeout:g}s; "
                    "check that it is running or raise the timeout",
                ) from None
            raise TransportError(
                "client.connection",
                f"cannot reach the sealbox server at {self._base}: {reason}; "
                "check SEALBOX_ADDR and that the server is running",
            ) from None
        except OSError as e:
            raise TransportError(
                "client.connection",
                f"request to the sealbox server at {self._base} failed: {e.strerror or type(e).__name__}",
            ) from None
        if status == 204 or not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise TransportError(
                "client.decode",
                f"could not decode the server's answer (status {status}); is {self._base} a sealbox server?",
                request_id,
                status,
            ) from None


class Secrets:
    """``client.secrets``: create, read, version, reveal and delete secrets."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def create(
        self,
        name: str,
        value: Value,
        type: str = "text",
        description: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        tags: Optional[Mapping[str, str]] = None,
        visibility: str = "masked",
    ) -> Secret:
        """``value`` is a ``str`` for ``text`` and a ``dict`` of the type's fields for the others
        (``smtp``, ``aws_sqs``, ``database``, ``ssh_key``; see docs/api.md)."""
        body: Dict[str, Any] = {
            "name": name,
            "type": type,
            "value": value if isinstance(value, str) else dict(value),
            "visibility": visibility,
        }
        if description is not None:
            body["description"] = description
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if tags is not None:
            body["tags"] = dict(tags)
        return Secret.from_wire(self._c._request("POST", ["secrets"], body=body))

    def get(self, name: str) -> Secret:
        return Secret.from_wire(self._c._request("GET", ["secrets", name]))

    def list(
        self,
        prefix: Optional[str] = None,
        type: Optional[str] = None,
        tags: Optional[Mapping[str, str]] = None,
    ) -> List[Secret]:
        """Every secret matching all filters (every tag must match)."""
        query: List[Tuple[str, str]] = []
        if prefix is not None:
            query.append(("prefix", prefix))
        if type is not None:
            query.append(("type", type))
        for k, v in (tags or {}).items():
            query.append(("tag", f"{k}={v}"))
        data = self._c._request("GET", ["secrets"], query=query)
        return [Secret.from_wire(s) for s in data.get("secrets", [])]

    def update(
        self,
        name: str,
        value: Optional[Value] = None,
        description: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        tags: Optional[Mapping[str, str]] = None,
        expected_version: Optional[int] = None,
    ) -> Secret:
        """A new ``value`` makes a new version; with ``expected_version``, a secret that moved on
        raises ``Conflict`` and nothing is written."""
        body: Dict[str, Any] = {}
        if value is not None:
            body["value"] = value if isinstance(value, str) else dict(value)
        if description is not None:
            body["description"] = description
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if tags is not None:
            body["tags"] = dict(tags)
        if expected_version is not None:
            body["expected_version"] = expected_version
        return Secret.from_wire(self._c._request("PATCH", ["secrets", name], body=body))

    def delete(self, name: str) -> Secret:
        """Moves the secret to the trash (restorable with ``restore``)."""
        return Secret.from_wire(self._c._request("DELETE", ["secrets", name]))

    def trash(self) -> List[Secret]:
        data = self._c._request("GET", ["trash"])
        return [Secret.from_wire(s) for s in data.get("secrets", [])]

    def restore(self, name: str) -> Secret:
        return Secret.from_wire(self._c._request("POST", ["trash", name, "restore"]))

    def purge(self, name: str) -> None:
        """Deletes a trashed secret for good."""
        self._c._request("DELETE", ["trash", name])

    def versions(self, name: str) -> SecretVersions:
        return SecretVersions.from_wire(self._c._request("GET", ["secrets", name, "versions"]))

    def reveal(self, name: str, version: Optional[int] = None) -> str:
        """The value of the current version (or of ``version``); audited by the server. Structured
        values come as a JSON object string (``json.loads`` it), as in the environment."""
        body: Dict[str, Any] = {}
        if version is not None:
            body["version"] = version
        data = self._c._request("POST", ["secrets", name, "reveal"], body=body)
        return _value_to_str(data["value"])

    def rollback(self, name: str, to: int, expected_version: Optional[int] = None) -> Secret:
        """Writes a new version holding version ``to``'s value, server-side."""
        body: Dict[str, Any] = {"to": to}
        if expected_version is not None:
            body["expected_version"] = expected_version
        return Secret.from_wire(self._c._request("POST", ["secrets", name, "rollback"], body=body))


class Identities:
    """``client.identities``: scripts, agents, builds and services, their variables and tokens."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def list(self) -> List[Identity]:
        data = self._c._request("GET", ["identities"])
        return [Identity.from_wire(i) for i in data.get("identities", [])]

    def create(self, name: str, tags: Optional[Mapping[str, str]] = None) -> Identity:
        body = {"name": name, "tags": dict(tags or {})}
        return Identity.from_wire(self._c._request("POST", ["identities"], body=body))

    def get(self, name: str) -> Identity:
        return Identity.from_wire(self._c._request("GET", ["identities", name]))

    def update(self, name: str, tags: Mapping[str, str]) -> Identity:
        """Replaces the identity's tags."""
        return Identity.from_wire(self._c._request("PATCH", ["identities", name], body={"tags": dict(tags)}))

    def delete(self, name: str) -> None:
        """Deletes the identity with its variables and tokens."""
        self._c._request("DELETE", ["identities", name])

    def set_env(self, name: str, key: str, value: str) -> Identity:
        """Sets one of the identity's own variables; it wins over a secret with the same key."""
        return Identity.from_wire(
            self._c._request("PUT", ["identities", name, "env", key], body={"value": value})
        )

    def unset_env(self, name: str, key: str) -> Identity:
        return Identity.from_wire(self._c._request("DELETE", ["identities", name, "env", key]))

    def tokens(self, name: str) -> List[TokenInfo]:
        data = self._c._request("GET", ["identities", name, "tokens"])
        return [TokenInfo.from_wire(t) for t in data.get("tokens", [])]

    def create_token(self, name: str, token_name: str, expires_in_seconds: Optional[int] = None) -> CreatedToken:
        """A token for the identity, shown this once (``.token``)."""
        body: Dict[str, Any] = {"name": token_name}
        if expires_in_seconds is not None:
            body["expires_in_seconds"] = expires_in_seconds
        return CreatedToken.from_wire(self._c._request("POST", ["identities", name, "tokens"], body=body))

    def revoke_token(self, name: str, token: str) -> None:
        """Revokes one of the identity's tokens, given its id or the token itself (``sbx_...``,
        e.g. a leaked one; sent in the request body, never in the URL)."""
        if token.startswith("sbx_"):
            self._c._request("POST", ["identities", name, "tokens", "revoke"], body={"token": token})
        else:
            self._c._request("DELETE", ["identities", name, "tokens", token])

    def federate(
        self,
        name: str,
        issuer: str,
        audience: str,
        claims: Optional[Mapping[str, str]] = None,
        ttl_seconds: Optional[int] = None,
        static_keys: Optional[str] = None,
    ) -> Federation:
        """Lets the identity trust JWTs of ``issuer`` for ``audience`` whose claims match
        ``claims`` (exact, or ``*`` globs); ``static_keys`` (a JWKS or PEM public keys) for an
        issuer the server cannot reach."""
        body: Dict[str, Any] = {"issuer": issuer, "audience": audience, "claims": dict(claims or {})}
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        if static_keys is not None:
            body["static_keys"] = static_keys
        return Federation.from_wire(self._c._request("POST", ["identities", name, "federations"], body=body))

    def federations(self, name: str) -> List[Federation]:
        data = self._c._request("GET", ["identities", name, "federations"])
        return [Federation.from_wire(f) for f in data.get("federations", [])]

    def remove_federation(self, name: str, federation_id: str) -> None:
        self._c._request("DELETE", ["identities", name, "federations", federation_id])


class Policies:
    """``client.policies``: which identities may ``read`` or ``use`` which secrets, by tags."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def list(self) -> List[Policy]:
        data = self._c._request("GET", ["policies"])
        return [Policy.from_wire(p) for p in data.get("policies", [])]

    def get(self, name: str) -> Policy:
        """The policy called ``name`` (from the list; raises ``NotFound`` when there is none)."""
        for policy in self.list():
            if policy.name == name:
                return policy
        raise _not_found("policy.not_found", f"no policy named {name!r}; list them with client.policies.list()")

    def create(
        self,
        name: str,
        allow: Sequence[str],
        identities: Optional[Sequence[str]] = None,
        identity_tags: Optional[Mapping[str, str]] = None,
        secret_tags: Optional[Mapping[str, str]] = None,
    ) -> Policy:
        """``allow`` holds ``"read"`` and/or ``"use"`` (``use`` alone: inject-only)."""
        if isinstance(allow, str):
            allow = [allow]
        body = {
            "name": name,
            "identities": list(identities or []),
            "identity_tags": dict(identity_tags or {}),
            "secret_tags": dict(secret_tags or {}),
            "allow": list(allow),
        }
        return Policy.from_wire(self._c._request("POST", ["policies"], body=body))

    def delete(self, name: str) -> None:
        self._c._request("DELETE", ["policies", name])


class Actions:
    """``client.actions``: server-side HTTP calls, e-mails and SQS messages that use secrets
    without revealing them. A definition is the wire shape, e.g.
    ``{"kind": "http", "method": "POST", "url": "https://...", "headers": {...}, "body": "..."}``."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def list(self) -> List[Action]:
        data = self._c._request("GET", ["actions"])
        return [Action.from_wire(a) for a in data.get("actions", [])]

    def create(self, name: str, definition: Mapping[str, Any]) -> Action:
        body = {"name": name, "definition": dict(definition)}
        return Action.from_wire(self._c._request("POST", ["actions"], body=body))

    def get(self, name: str) -> Action:
        return Action.from_wire(self._c._request("GET", ["actions", name]))

    def update(self, name: str, definition: Mapping[str, Any]) -> Action:
        """Replaces the definition."""
        return Action.from_wire(self._c._request("PATCH", ["actions", name], body={"definition": dict(definition)}))

    def delete(self, name: str) -> None:
        self._c._request("DELETE", ["actions", name])

    def run(self, name: str, input: Optional[Mapping[str, str]] = None) -> ActionRun:
        """Runs a saved action; the reply comes back with any secret value redacted."""
        body = {"input": dict(input or {})}
        return ActionRun.from_wire(self._c._request("POST", ["actions", name, "run"], body=body))

    def run_unsaved(self, definition: Mapping[str, Any], input: Optional[Mapping[str, str]] = None) -> ActionRun:
        body = {"definition": dict(definition), "input": dict(input or {})}
        return ActionRun.from_wire(self._c._request("POST", ["actions", "run"], body=body))


class Audit:
    """``client.audit``: the tamper-evident event log (owners and admins)."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def list(
        self,
        since: Optional[str] = None,
        until: Optional[str] = None,
        actor: Optional[str] = None,
        action: Optional[str] = None,
        target: Optional[str] = None,
        secret: Optional[str] = None,
        after: Optional[int] = None,
        limit: Optional[int] = None,
        before: Optional[int] = None,
        newest_first: bool = False,
    ) -> List[AuditEvent]:
        """Events filtered by time (RFC 3339, or back from now: ``"1h"``, ``"7d"``), actor
        (``member:EMAIL``, ``identity:NAME``), action (``secret.reveal``), target (``secret:NAME``,
        or ``secret=NAME``); oldest first (paged by ``after``) or ``newest_first`` (paged by
        ``before``). ``page()`` also says whether more events match."""
        return self.page(since, until, actor, action, target, secret, after, limit, before, newest_first).events

    def page(
        self,
        since: Optional[str] = None,
        until: Optional[str] = None,
        actor: Optional[str] = None,
        action: Optional[str] = None,
        target: Optional[str] = None,
        secret: Optional[str] = None,
        after: Optional[int] = None,
        limit: Optional[int] = None,
        before: Optional[int] = None,
        newest_first: bool = False,
    ) -> AuditPage:
        """As ``list``, with ``more``: true when more events match than this page holds."""
        if secret is not None:
            if target is not None:
                raise ClientArgumentError("client.invalid_argument", "give either target or secret, not both")
            target = f"secret:{secret}"
        query: List[Tuple[str, str]] = []
        for key, value in (("since", since), ("until", until), ("actor", actor), ("action", action), ("target", target)):
            if value is not None:
                query.append((key, value))
        for key, number in (("after", after), ("before", before), ("limit", limit)):
            if number is not None:
                query.append((key, str(number)))
        if newest_first:
            query.append(("order", "newest"))
        data = self._c._request("GET", ["audit"], query=query)
        return AuditPage(
            events=[AuditEvent.from_wire(e) for e in data.get("events", [])],
            more=bool(data.get("more", False)),
        )

    def verify(self) -> AuditVerification:
        return AuditVerification.from_wire(self._c._request("GET", ["audit", "verify"]))


class Members:
    """``client.members``: the people of the workspace."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def list(self) -> List[Member]:
        data = self._c._request("GET", ["members"])
        return [Member.from_wire(m) for m in data.get("members", [])]

    def add(self, email: str, role: str, password: Optional[str] = None) -> AddedMember:
        body: Dict[str, Any] = {"email": email, "role": role}
        if password is not None:
            body["password"] = password
        data = self._c._request("POST", ["members"], body=body)
        return AddedMember(member=Member.from_wire(data["member"]), password=data.get("password"))

    def set_role(self, email: str, role: str) -> Member:
        return Member.from_wire(self._c._request("PATCH", ["members", email], body={"role": role}))

    def remove(self, email: str) -> None:
        self._c._request("DELETE", ["members", email])


class WorkspaceSso:
    """``client.workspace_sso``: the workspace's single sign-on rules (owners and admins), as
    ``sealbox workspace sso`` and ``/v1/workspace/sso``."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def get(self) -> SsoSettings:
        """The single sign-on rules: ``GET /v1/workspace/sso``."""
        return SsoSettings.from_wire(self._c._request("GET", ["workspace", "sso"]))

    def update(
        self,
        password_sign_in: Optional[bool] = None,
        create_members: Optional[str] = None,
        group_roles: Optional[Mapping[str, str]] = None,
    ) -> SsoSettings:
        """Changes the rules given (``PATCH /v1/workspace/sso``); ``group_roles`` replaces the whole
        mapping. Only owners turn ``password_sign_in`` on or off."""
        body: Dict[str, Any] = {}
        if password_sign_in is not None:
            body["password_sign_in"] = password_sign_in
        if create_members is not None:
            body["create_members"] = create_members
        if group_roles is not None:
            body["group_roles"] = dict(group_roles)
        return SsoSettings.from_wire(self._c._request("PATCH", ["workspace", "sso"], body=body))


class Tokens:
    """``client.tokens``: the caller's personal access tokens."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def list(self) -> List[TokenInfo]:
        data = self._c._request("GET", ["tokens"])
        return [TokenInfo.from_wire(t) for t in data.get("tokens", [])]

    def create(self, name: str, expires_in_seconds: Optional[int] = None) -> CreatedToken:
        body: Dict[str, Any] = {"name": name}
        if expires_in_seconds is not None:
            body["expires_in_seconds"] = expires_in_seconds
        return CreatedToken.from_wire(self._c._request("POST", ["tokens"], body=body))

    def revoke(self, token: str) -> None:
        """Revokes one of your tokens, given its id or the token itself (``sbx_...``, e.g. a
        leaked one; sent in the request body, never in the URL)."""
        if token.startswith("sbx_"):
            self._c._request("POST", ["tokens", "revoke"], body={"token": token})
        else:
            self._c._request("DELETE", ["tokens", token])


class Context:
    """What a script (TagoIO's "analysis") runs with: ``context.environment.get("MY_SECRET_KEY")``.

    The environment is fetched from ``GET /v1/environment`` once, on first use; ``refresh()``
    fetches it again. With no arguments the client reads ``SEALBOX_ADDR`` and ``SEALBOX_TOKEN``
    (an identity's token). With ``only``, just those variables are fetched (and only those
    secrets audited and marked as used). Its ``repr`` never shows a value or the token.
    """

    def __init__(
        self,
        client: Optional[Client] = None,
        addr: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = 10.0,
        only: Optional[Sequence[str]] = None,
    ) -> None:
        if client is not None and (addr is not None or token is not None):
            raise ClientArgumentError("client.invalid_argument", "give either a client or addr/token, not both")
        self.client = client if client is not None else Client(addr=addr, token=token, timeout=timeout)
        self.only = only
        self._environment: Optional[Environment] = None

    @property
    def environment(self) -> Environment:
        if self._environment is None:
            self._environment = self.client.environment(only=self.only)
        return self._environment

    def refresh(self) -> Environment:
        """Fetches the environment again (e.g. after a secret changed) and returns it."""
        self._environment = self.client.environment(only=self.only)
        return self._environment

    def __repr__(self) -> str:
        env = repr(self._environment) if self._environment is not None else "not fetched"
        return f"Context(client={self.client!r}, environment={env})"

    __str__ = __repr__


def _segment(segment: str) -> str:
    if not isinstance(segment, str) or segment == "":
        raise ClientArgumentError("client.invalid_argument", "a name in the request path must be a non-empty string")
    return urllib.parse.quote(segment, safe="")


def _check_token(token: str) -> None:
    if not isinstance(token, str) or token == "" or any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in token):
        raise ClientArgumentError(
            "client.invalid_argument",
            "the token is empty or contains characters that cannot be sent in an HTTP header; "
            "copy it again from the server (it starts with sbx_)",
        )


def _not_found(code: str, message: str) -> SealboxError:
    return error_class(404)(code, message, None, 404)


def _api_error(status: int, raw: bytes, header_request_id: Optional[str]) -> SealboxError:
    cls = error_class(status)
    try:
        detail = json.loads(raw)["error"]
        code = str(detail["code"])
        message = str(detail["message"])
        request_id = str(detail.get("request_id") or header_request_id or "") or None
    except (ValueError, KeyError, TypeError):
        return cls(
            "client.unexpected_status",
            f"the server answered {status} without a sealbox error body; is the address a sealbox server?",
            header_request_id,
            status,
        )
    return cls(code, message, request_id, status)
