"""Render, audit, whoami, login, errors, and that no repr or exception shows a value or a token."""

from __future__ import annotations

import socket

import pytest

import sealbox
from conftest import Server

KNOWN = "known-value-Zq81xW3"


def test_render_templates(owner: sealbox.Client, unique: str) -> None:
    owner.secrets.create(name=f"DB_PASS_{unique}", value="pa55-word")
    rendered = owner.render("postgres://app:{secrets.DB_PASS_%s}@db/app {{literal}}" % unique)
    assert rendered == "postgres://app:pa55-word@db/app {literal}"
    with pytest.raises(sealbox.Invalid) as info:
        owner.render("{secrets.MISSING_%s} and {secrets.ALSO_MISSING_%s}" % (unique, unique))
    assert info.value.code == "template.reference_invalid"
    assert f"MISSING_{unique}" in info.value.message and f"ALSO_MISSING_{unique}" in info.value.message


def test_audit_list_and_verify(owner: sealbox.Client, unique: str) -> None:
    name = f"AUDITED_{unique}"
    owner.secrets.create(name=name, value=KNOWN)
    owner.secrets.reveal(name)
    events = owner.audit.list(secret=name)
    assert [e.action for e in events] == ["secret.create", "secret.reveal"]
    assert all(e.target == f"secret:{name}" and e.outcome == "success" for e in events)
    assert all(e.actor.startswith("member:") for e in events)
    assert all(len(e.hash) == 64 for e in events) and events[0].hash != events[1].hash
    reveals = owner.audit.list(action="secret.reveal", target=f"secret:{name}")
    assert len(reveals) == 1
    assert KNOWN not in repr(owner.audit.list(limit=1000))
    paged = owner.audit.list(after=events[0].seq, limit=1)
    assert len(paged) == 1 and paged[0].seq > events[0].seq
    result = owner.audit.verify()
    assert result.ok is True and result.events_checked >= 2 and result.first_bad_seq is None
    with pytest.raises(sealbox.Invalid) as info:
        owner.audit.list(since="yesterday")
    assert info.value.code == "audit.query_invalid"


def test_whoami_health_and_login(server: Server) -> None:
    owner = server.client()
    me = owner.whoami()
    assert me == sealbox.WhoAmI(workspace="default", kind="member", name=server.owner_email, role="owner")
    assert owner.health() == sealbox.Health(status="ok", version=owner.health().version, sealed=False)
    status = owner.seal_status()
    assert (status.sealed, status.seal, status.initialized) == (False, "file", True)
    # An unsealed server answers an unseal with its status.
    assert owner.unseal().sealed is False
    before = owner.rotation_status().active_version
    assert owner.rotate().active_version == before + 1 == owner.rotation_status().active_version
    assert owner.ready() == sealbox.Readiness(status="ready", database="ok", migrations="ok", keys="ok")
    fresh = sealbox.Client(addr=server.addr)
    session = fresh.login(server.owner_email, server.owner_password)
    assert session.role == "owner" and session.workspace == "default"
    assert fresh.whoami().name == server.owner_email
    fresh.logout()
    assert not fresh.has_token
    with pytest.raises(sealbox.Unauthorized) as info:
        fresh.whoami()
    assert info.value.code == "auth.missing_token"
    with pytest.raises(sealbox.Unauthorized) as info:
        sealbox.Client(addr=server.addr).login(server.owner_email, "wrong-password-123")
    assert info.value.code == "auth.bad_credentials"
    assert "wrong-password-123" not in str(info.value)


def test_bad_token_raises_unauthorized_without_the_token(server: Server) -> None:
    bad = "sbx_not_a_real_token_abcdef123456"
    with pytest.raises(sealbox.Unauthorized) as info:
        sealbox.Client(addr=server.addr, token=bad).secrets.list()
    assert info.value.code == "auth.invalid_token"
    assert bad not in str(info.value) and bad not in repr(info.value)
    with pytest.raises(sealbox.ClientArgumentError) as arg:
        sealbox.Client(addr=server.addr, token="sbx_x\r\nX-Evil: 1")
    assert "sbx_x" not in str(arg.value)


def test_network_errors_are_wrapped_with_a_clear_message() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "sbx_should_never_be_printed_42"
    client = sealbox.Client(addr=f"http://127.0.0.1:{port}", token=token, timeout=2)
    with pytest.raises(sealbox.TransportError) as info:
        client.whoami()
    assert info.value.code == "client.connection"
    assert info.value.status is None
    assert f"cannot reach the sealbox server at http://127.0.0.1:{port}" in str(info.value)
    assert token not in str(info.value) and token not in repr(info.value)
    with pytest.raises(sealbox.ClientArgumentError):
        sealbox.Client(addr="ftp://example.com")


def test_not_a_sealbox_server_and_unknown_route(server: Server, owner: sealbox.Client) -> None:
    with pytest.raises(sealbox.NotFound) as info:
        owner.secrets.get("Nonexistent_secret_name")
    assert info.value.code == "secret.not_found"
    # A path segment is encoded: a name with a slash cannot reach another route.
    with pytest.raises(sealbox.SealboxError) as err:
        owner.secrets.get("a/../../auth/whoami")
    assert err.value.status in (400, 404)


def test_no_repr_or_str_shows_a_value_or_the_token(server: Server, unique: str) -> None:
    owner = server.client()
    name = f"REPR_{unique}"
    secret = owner.secrets.create(name=name, value=KNOWN, tags={"team": f"t{unique}"})
    ident = f"repr_{unique}"
    owner.identities.create(ident)
    owner.policies.create(f"repr_{unique}", allow=["read"], identities=[ident], secret_tags={"team": f"t{unique}"})
    created = owner.identities.create_token(ident, "t")
    context = sealbox.Context(addr=server.addr, token=created.token)
    env = context.environment
    assert env[name] == KNOWN
    objects = [
        secret,
        owner.secrets.versions(name),
        owner.secrets.list(prefix=name),
        created,
        env,
        context,
        context.client,
        owner,
        owner.identities.get(ident),
    ]
    for obj in objects:
        for text in (repr(obj), str(obj)):
            assert KNOWN not in text, text
            assert created.token not in text, text
            assert server.owner_token not in text, text
    assert repr(env) == f"Environment(keys=[{name!r}])"
    assert repr(owner) == f"Client(addr={server.addr!r}, token='[redacted]', workspace=None)"
    with pytest.raises(sealbox.Conflict) as info:
        owner.secrets.update(name, value=KNOWN + "x", expected_version=7)
    for text in (str(info.value), repr(info.value)):
        assert KNOWN not in text and server.owner_token not in text


def test_issue_9_tokens_show_a_prefix_and_are_revoked_by_value(owner: sealbox.Client, unique: str) -> None:
    created = owner.tokens.create(f"leaky_{unique}")
    assert created.info.prefix == created.token[4:12]
    assert [t.prefix for t in owner.tokens.list() if t.id == created.info.id] == [created.token[4:12]]
    owner.tokens.revoke(created.token)
    with pytest.raises(sealbox.Unauthorized):
        sealbox.Client(addr=owner.addr, token=created.token).whoami()
    with pytest.raises(sealbox.NotFound) as info:
        owner.tokens.revoke(created.token)
    assert info.value.code == "token.not_found" and created.token not in str(info.value)
    name = f"bot_{unique}"
    owner.identities.create(name)
    tok = owner.identities.create_token(name, "t")
    assert [t.prefix for t in owner.identities.tokens(name)] == [tok.token[4:12]]
    owner.identities.revoke_token(name, tok.token)
    assert owner.identities.tokens(name) == []


def test_issue_9_audit_pages_newest_first_and_says_when_there_is_more(owner: sealbox.Client, unique: str) -> None:
    for i in range(3):
        owner.secrets.create(name=f"PAGED_{i}_{unique}", value="v")
    page = owner.audit.page(limit=2, newest_first=True, since="1h")
    assert len(page.events) == 2 and page.more is True
    assert page.events[0].seq > page.events[1].seq
    rest = owner.audit.page(before=page.events[1].seq, newest_first=True, limit=1000)
    assert rest.more is False and all(e.seq < page.events[1].seq for e in rest.events)


def test_workspace_sso_settings(owner: sealbox.Client) -> None:
    settings = owner.workspace_sso.get()
    assert settings.password_sign_in is True and settings.create_members == "off"
    assert settings.sso_configured is False, "the test server has no --oidc-issuer"
    changed = owner.workspace_sso.update(create_members="editor", group_roles={"ops": "admin"})
    assert changed.create_members == "editor" and changed.group_roles == {"ops": "admin"}
    # Passwords cannot be turned off on a server without single sign-on.
    with pytest.raises(sealbox.Invalid) as info:
        owner.workspace_sso.update(password_sign_in=False)
    assert info.value.code == "sso.settings_invalid"
    restored = owner.workspace_sso.update(create_members="off", group_roles={})
    assert restored.create_members == "off" and restored.group_roles == {}
    assert any(e.action == "workspace.sso_update" for e in owner.audit.list(action="workspace.sso_update"))
