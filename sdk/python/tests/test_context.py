"""TagoIO-shaped analysis flows: an identity reads `context.environment` through a tag policy."""

from __future__ import annotations

from typing import Tuple

import pytest

import sealbox
from conftest import Server


def _identity_with_policy(owner: sealbox.Client, unique: str, allow: list) -> Tuple[str, str]:
    """An identity `an_<unique>` with a policy over secrets tagged `team=t<unique>`; returns its name and token."""
    name = f"an_{unique}"
    owner.identities.create(name, tags={"kind": "analysis"})
    owner.policies.create(
        f"pol_{unique}", allow=allow, identities=[name], secret_tags={"team": f"t{unique}"}
    )
    token = owner.identities.create_token(name, "ci")
    return name, token.token


def test_identity_reads_its_environment_like_an_analysis(server: Server, unique: str) -> None:
    owner = server.client()
    owner.secrets.create(name=f"MY_SECRET_KEY_{unique}", value="s3cr3t-env-value", tags={"team": f"t{unique}"})
    owner.secrets.create(name=f"OTHER_TEAM_{unique}", value="not-for-you", tags={"team": "other"})
    _, token = _identity_with_policy(owner, unique, ["read"])

    context = sealbox.Context(addr=server.addr, token=token)
    assert context.environment.get(f"MY_SECRET_KEY_{unique}") == "s3cr3t-env-value"
    assert context.environment[f"MY_SECRET_KEY_{unique}"] == "s3cr3t-env-value"
    assert f"OTHER_TEAM_{unique}" not in context.environment
    assert context.environment.get("NOPE") is None
    with pytest.raises(KeyError):
        context.environment["NOPE"]
    assert context.environment.to_dict() == {f"MY_SECRET_KEY_{unique}": "s3cr3t-env-value"}
    assert context.client.whoami().kind == "identity"


def test_context_reads_sealbox_addr_and_token_from_the_environment(
    server: Server, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = server.client()
    owner.secrets.create(name=f"ENVVAR_{unique}", value="from-env-vars", tags={"team": f"t{unique}"})
    _, token = _identity_with_policy(owner, unique, ["read"])
    monkeypatch.setenv("SEALBOX_ADDR", server.addr)
    monkeypatch.setenv("SEALBOX_TOKEN", token)
    context = sealbox.Context()
    assert context.environment.get(f"ENVVAR_{unique}") == "from-env-vars"
    assert sealbox.Client().context.environment.get(f"ENVVAR_{unique}") == "from-env-vars"


def test_identity_variable_overrides_a_secret_with_the_same_key(server: Server, unique: str) -> None:
    owner = server.client()
    key = f"API_URL_{unique}"
    owner.secrets.create(name=key, value="https://secret.example", tags={"team": f"t{unique}"})
    name, token = _identity_with_policy(owner, unique, ["read"])
    identity = owner.identities.set_env(name, key, "https://override.example")
    assert identity.env == {key: "https://override.example"}
    owner.identities.set_env(name, f"PLAIN_{unique}", "just-a-var")
    env = sealbox.Client(addr=server.addr, token=token).context.environment
    assert env[key] == "https://override.example"
    assert env[f"PLAIN_{unique}"] == "just-a-var"
    owner.identities.unset_env(name, key)
    assert sealbox.Client(addr=server.addr, token=token).environment()[key] == "https://secret.example"


def test_environment_is_fetched_once_until_refresh(server: Server, unique: str) -> None:
    owner = server.client()
    key = f"ROTATING_{unique}"
    owner.secrets.create(name=key, value="before-rotation", tags={"team": f"t{unique}"})
    _, token = _identity_with_policy(owner, unique, ["read"])
    context = sealbox.Context(addr=server.addr, token=token)
    assert context.environment[key] == "before-rotation"
    owner.secrets.update(key, value="after-rotation")
    assert context.environment[key] == "before-rotation"  # cached
    assert context.refresh()[key] == "after-rotation"
    assert context.environment[key] == "after-rotation"


def test_use_only_policy_gives_nothing_in_the_environment(server: Server, unique: str) -> None:
    owner = server.client()
    key = f"INJECT_ONLY_{unique}"
    owner.secrets.create(name=key, value="use-only-value", tags={"team": f"t{unique}"})
    _, token = _identity_with_policy(owner, unique, ["use"])
    context = sealbox.Context(addr=server.addr, token=token)
    assert key not in context.environment
    assert len(context.environment) == 0
    with pytest.raises(sealbox.Invalid) as info:
        context.client.render("{secrets.%s}" % key)
    assert info.value.code == "template.reference_invalid"
    assert "use-only-value" not in str(info.value)


def test_identity_token_cannot_manage_secrets(server: Server, unique: str) -> None:
    owner = server.client()
    _, token = _identity_with_policy(owner, unique, ["read"])
    ident = sealbox.Client(addr=server.addr, token=token)
    with pytest.raises(sealbox.Forbidden) as info:
        ident.secrets.create(name=f"NOPE_{unique}", value="x")
    assert info.value.status == 403


def test_identities_and_policies_are_managed(owner: sealbox.Client, unique: str) -> None:
    name = f"svc_{unique}"
    created = owner.identities.create(name, tags={"team": "payments"})
    assert created.tags == {"team": "payments"}
    assert owner.identities.update(name, tags={"team": "search"}).tags == {"team": "search"}
    assert owner.identities.get(name).tags == {"team": "search"}
    assert name in {i.name for i in owner.identities.list()}
    tok = owner.identities.create_token(name, "deploy", expires_in_seconds=3600)
    assert tok.token.startswith("sbx_") and tok.info.expires_at
    assert [t.id for t in owner.identities.tokens(name)] == [tok.info.id]
    owner.identities.revoke_token(name, tok.info.id)
    with pytest.raises(sealbox.Unauthorized):
        sealbox.Client(addr=owner.addr, token=tok.token).environment()
    policy = owner.policies.create(
        f"p_{unique}", allow=["read", "use"], identity_tags={"team": "search"}, secret_tags={"team": "search"}
    )
    assert policy.allow == ["read", "use"]
    assert owner.policies.get(f"p_{unique}").identity_tags == {"team": "search"}
    owner.policies.delete(f"p_{unique}")
    with pytest.raises(sealbox.NotFound):
        owner.policies.get(f"p_{unique}")
    owner.identities.delete(name)
    with pytest.raises(sealbox.NotFound) as info:
        owner.identities.get(name)
    assert info.value.code == "identity.not_found"


def test_only_fetches_just_the_named_variables_and_names_the_secrets(server: Server, unique: str) -> None:
    owner = server.client()
    wanted, other = f"WANTED_{unique}", f"OTHER_{unique}"
    owner.secrets.create(name=wanted, value="wanted-value", tags={"team": f"t{unique}"})
    owner.secrets.create(name=other, value="other-value", tags={"team": f"t{unique}"})
    name, token = _identity_with_policy(owner, unique, ["read"])
    owner.identities.set_env(name, f"LOG_LEVEL_{unique}", "debug")

    context = sealbox.Context(addr=server.addr, token=token, only=[wanted, f"LOG_LEVEL_{unique}"])
    assert context.environment.to_dict() == {wanted: "wanted-value", f"LOG_LEVEL_{unique}": "debug"}
    assert context.environment.secret_names == {wanted}
    assert owner.secrets.get(other).last_used_at is None  # not read, not marked as used
    full = sealbox.Client(addr=server.addr, token=token).environment()
    assert full.secret_names == {wanted, other}
    with pytest.raises(sealbox.SealboxError) as refused:
        sealbox.Client(addr=server.addr, token=token).environment(only=[wanted, "NOPE"])
    assert refused.value.code == "environment.only_invalid"
    assert "NOPE" in str(refused.value)


def test_identity_reveals_one_value_it_may_read(server: Server, unique: str) -> None:
    owner = server.client()
    key = f"ONE_{unique}"
    owner.secrets.create(name=key, value="one-value", tags={"team": f"t{unique}"})
    owner.secrets.create(name=f"NOT_MINE_{unique}", value="x-value", tags={"team": "other"})
    _, token = _identity_with_policy(owner, unique, ["read"])
    identity = sealbox.Client(addr=server.addr, token=token)
    assert identity.secrets.reveal(key) == "one-value"
    with pytest.raises(sealbox.NotFound):
        identity.secrets.reveal(f"NOT_MINE_{unique}")
