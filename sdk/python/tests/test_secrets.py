"""The Julep-shaped secrets flows against a real server."""

from __future__ import annotations

import json

import pytest

import sealbox


def test_create_shaped_like_the_seed(owner: sealbox.Client, unique: str) -> None:
    secret = owner.secrets.create(
        name=f"stripe_api_key_{unique}",
        value="sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        description="Stripe API key for payment processing",
        metadata={"environment": "production", "owner": "payments-team"},
    )
    assert isinstance(secret, sealbox.Secret)
    assert secret.name == f"stripe_api_key_{unique}"
    assert secret.type == "text"
    assert secret.visibility == "masked"
    assert secret.version == 1
    assert secret.description == "Stripe API key for payment processing"
    assert secret.metadata == {"environment": "production", "owner": "payments-team"}
    assert secret.created_by.startswith("member:")
    # Details never hold the value.
    assert "sk_test_4eC39HqLyjWDarjtT1zdp7dc" not in repr(secret)


def test_get_and_list_with_filters(owner: sealbox.Client, unique: str) -> None:
    owner.secrets.create(name=f"L{unique}_a", value="one", tags={"team": "payments", "env": "prod"})
    owner.secrets.create(name=f"L{unique}_b", value="two", tags={"team": "payments", "env": "dev"})
    owner.secrets.create(name=f"L{unique}_c", value="three", tags={"team": "search"})
    got = owner.secrets.get(f"L{unique}_a")
    assert got.tags == {"team": "payments", "env": "prod"}
    names = {s.name for s in owner.secrets.list(prefix=f"L{unique}_")}
    assert names == {f"L{unique}_a", f"L{unique}_b", f"L{unique}_c"}
    payments = {s.name for s in owner.secrets.list(prefix=f"L{unique}_", tags={"team": "payments"})}
    assert payments == {f"L{unique}_a", f"L{unique}_b"}
    both = {s.name for s in owner.secrets.list(prefix=f"L{unique}_", tags={"team": "payments", "env": "dev"})}
    assert both == {f"L{unique}_b"}
    assert owner.secrets.list(prefix=f"L{unique}_", type="smtp") == []


def test_update_makes_a_new_version_and_reveal_reads_each(owner: sealbox.Client, unique: str) -> None:
    name = f"UPD_{unique}"
    owner.secrets.create(name=name, value="first-value")
    updated = owner.secrets.update(name, value="second-value", description="rotated", expected_version=1)
    assert updated.version == 2
    assert updated.description == "rotated"
    assert owner.secrets.reveal(name) == "second-value"
    assert owner.secrets.reveal(name, version=1) == "first-value"
    versions = owner.secrets.versions(name)
    assert versions.current_version == 2
    assert sorted(v.version for v in versions.versions) == [1, 2]
    # Only metadata: no new version.
    assert owner.secrets.update(name, metadata={"k": "v"}).version == 2


def test_expected_version_conflict_raises_conflict_and_writes_nothing(owner: sealbox.Client, unique: str) -> None:
    name = f"CONF_{unique}"
    owner.secrets.create(name=name, value="kept-value")
    owner.secrets.update(name, value="newer-value")
    with pytest.raises(sealbox.Conflict) as info:
        owner.secrets.update(name, value="lost-value", expected_version=1)
    err = info.value
    assert err.code == "secret.version_conflict"
    assert err.status == 409
    assert err.request_id
    assert "version 2" in err.message
    assert "lost-value" not in str(err) and "lost-value" not in repr(err)
    assert owner.secrets.reveal(name) == "newer-value"
    assert owner.secrets.get(name).version == 2


def test_rollback_writes_a_new_version_with_the_old_value(owner: sealbox.Client, unique: str) -> None:
    name = f"RB_{unique}"
    owner.secrets.create(name=name, value="v1-value")
    owner.secrets.update(name, value="v2-value")
    rolled = owner.secrets.rollback(name, to=1)
    assert rolled.version == 3
    assert owner.secrets.reveal(name) == "v1-value"
    with pytest.raises(sealbox.NotFound) as info:
        owner.secrets.rollback(name, to=9)
    assert info.value.code == "secret.version_not_found"


def test_delete_restore_purge(owner: sealbox.Client, unique: str) -> None:
    name = f"DEL_{unique}"
    owner.secrets.create(name=name, value="trash-me")
    owner.secrets.update(name, value="trash-me-2")
    deleted = owner.secrets.delete(name)
    assert deleted.deleted_at is not None and deleted.purge_after is not None
    with pytest.raises(sealbox.NotFound):
        owner.secrets.get(name)
    assert name in {s.name for s in owner.secrets.trash()}
    # The name is reserved while in the trash, and the error names the two ways out.
    with pytest.raises(sealbox.Conflict) as info:
        owner.secrets.create(name=name, value="again")
    assert info.value.code == "secret.name_in_trash"
    assert "restore" in info.value.message and "purge" in info.value.message
    restored = owner.secrets.restore(name)
    assert restored.version == 2 and restored.deleted_at is None
    assert owner.secrets.reveal(name, version=1) == "trash-me"
    owner.secrets.delete(name)
    owner.secrets.purge(name)
    assert name not in {s.name for s in owner.secrets.trash()}
    # Purged for good: the name is free again.
    assert owner.secrets.create(name=name, value="fresh").version == 1


def test_bad_name_raises_invalid_with_the_servers_message(owner: sealbox.Client) -> None:
    with pytest.raises(sealbox.Invalid) as info:
        owner.secrets.create(name="1_starts_with_digit", value="x")
    assert info.value.code == "secret.name_invalid"
    assert info.value.status == 400
    assert "must begin with a letter" in info.value.message
    with pytest.raises(sealbox.Invalid) as info:
        owner.secrets.create(name="has-dash", value="x")
    assert "only letters, digits and underscore" in info.value.message
    with pytest.raises(sealbox.Invalid) as info:
        owner.secrets.create(name="A" * 129, value="x")
    assert "at most 128 characters" in info.value.message
    assert isinstance(info.value, sealbox.SealboxError)


def test_taken_name_and_wrong_value_are_refused(owner: sealbox.Client, unique: str) -> None:
    owner.secrets.create(name=f"TAKEN_{unique}", value="x")
    with pytest.raises(sealbox.Conflict) as info:
        owner.secrets.create(name=f"TAKEN_{unique}", value="y")
    assert info.value.code == "secret.name_taken"
    with pytest.raises(sealbox.Invalid) as info:
        owner.secrets.create(name=f"LONG_{unique}", value="a" * 2049)
    assert info.value.code == "secret.value_invalid"
    with pytest.raises(sealbox.Invalid) as info:
        owner.secrets.create(
            name=f"SMTP_{unique}",
            type="smtp",
            value={"host": "smtp.example.com", "port": 70000, "username": "u", "password": "p"},
        )
    assert "smtp.port" in info.value.message


def test_structured_secret_details_and_reveal(owner: sealbox.Client, unique: str) -> None:
    name = f"SMTP_OK_{unique}"
    secret = owner.secrets.create(
        name=name,
        type="smtp",
        value={"host": "smtp.example.com", "port": 587, "username": "mailer", "password": "smtp-pass-123"},
    )
    assert secret.details.get("host") == "smtp.example.com"
    assert "smtp-pass-123" not in repr(secret)
    revealed = owner.secrets.reveal(name)
    assert isinstance(revealed, str)
    assert json.loads(revealed)["password"] == "smtp-pass-123"


def test_restricted_value_cannot_be_revealed(owner: sealbox.Client, unique: str) -> None:
    name = f"RESTRICTED_{unique}"
    owner.secrets.create(name=name, value="never-shown", visibility="restricted")
    with pytest.raises(sealbox.Forbidden) as info:
        owner.secrets.reveal(name)
    assert info.value.code == "secret.restricted"
    assert "never-shown" not in str(info.value)


def test_import_tags_what_it_creates_and_never_compares_restricted_values(owner: sealbox.Client, unique: str) -> None:
    pin = f"PIN_{unique}"
    owner.secrets.create(name=pin, value="4821", visibility="restricted")
    wrong = owner.import_secrets({pin: "0000"}, dry_run=True)
    right = owner.import_secrets({pin: "4821"}, dry_run=True)
    assert wrong == right
    assert right.changed == [pin] and right.not_compared == [pin] and right.unchanged == []

    fresh = f"FRESH_{unique}"
    done = owner.import_secrets({fresh: "f"}, tags={"team": "payments"})
    assert done.created == [fresh] and done.dry_run is False
    assert owner.secrets.get(fresh).tags == {"team": "payments"}
    events = owner.audit.list(action="secret.import", secret=pin)
    assert [e.detail["dry_run"] for e in events] == [True, True]


def test_database_and_ssh_key_secrets(owner: sealbox.Client, unique: str, tmp_path) -> None:
    import subprocess

    name = f"DB_{unique}"
    db = owner.secrets.create(
        name=name,
        type="database",
        value={"engine": "postgres", "host": "db.example.com", "database": "app",
               "username": "app", "password": "db:pass@1"},
    )
    assert db.type == "database"
    assert db.details == {"engine": "postgres", "host": "db.example.com", "port": 5432,
                          "database": "app", "username": "app"}
    assert json.loads(owner.secrets.reveal(name))["password"] == "db:pass@1"

    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = (tmp_path / "key.pub").read_text().split()[1]
    ssh = owner.secrets.create(name=f"SSH_{unique}", type="ssh_key", value={"private_key": key.read_text()})
    assert ssh.type == "ssh_key"
    assert ssh.details["public_key"].split()[1] == public
    with pytest.raises(sealbox.Invalid) as info:
        owner.secrets.create(name=f"SSH_BAD_{unique}", type="ssh_key", value={"private_key": "nope"})
    assert info.value.message.startswith("ssh_key.private_key:")
