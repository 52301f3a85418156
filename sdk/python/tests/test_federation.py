"""Issue 14: federated identities (a JWT exchanged for an identity's token) and workspace token
lifetimes. The JWT is signed RS256 with a key made by the `openssl` command (the SDK itself needs
no crypto library); its public key is given to the trust as static keys."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import sealbox
from conftest import Server


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    def __init__(self, directory: Path) -> None:
        if shutil.which("openssl") is None:
            pytest.fail("the openssl command is needed to sign test JWTs (Debian package openssl)")
        self.key = directory / "issuer.key"
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(self.key)],
            check=True,
            capture_output=True,
        )
        self.public_pem = subprocess.run(
            ["openssl", "pkey", "-in", str(self.key), "-pubout"], check=True, capture_output=True
        ).stdout.decode("ascii")

    def sign(self, claims: dict) -> str:
        header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(claims).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing_input, check=True, capture_output=True
        ).stdout
        return f"{header}.{payload}.{_b64(signature)}"


ISSUER = "https://kubernetes.default.svc.cluster.local"


def test_issue_14_a_jwt_is_exchanged_for_the_identitys_token(
    server: Server, owner: sealbox.Client, unique: str, tmp_path: Path
) -> None:
    signer = Signer(tmp_path)
    name = f"k8s_{unique}"
    owner.identities.create(name, tags={"team": f"t{unique}"})
    trust = owner.identities.federate(
        name,
        issuer=ISSUER,
        audience="sealbox",
        claims={"sub": "system:serviceaccount:payments:*"},
        ttl_seconds=600,
        static_keys=signer.public_pem,
    )
    assert (trust.keys, trust.ttl_seconds) == ("static", 600)
    assert [f.id for f in owner.identities.federations(name)] == [trust.id]
    owner.secrets.create(name=f"K_{unique}", value="federated-value-77", tags={"team": f"t{unique}"})
    owner.policies.create(
        name=f"p_{unique}", identity_tags={"team": f"t{unique}"}, secret_tags={"team": f"t{unique}"}, allow=["read"]
    )

    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "sealbox", "sub": "system:serviceaccount:payments:worker", "iat": now, "exp": now + 300}
    jwt = signer.sign(claims)
    workload = server.client().with_token(None)
    exchanged = workload.exchange_jwt(jwt, identity=name)
    assert exchanged.identity == name and exchanged.workspace == "default"
    assert jwt not in repr(workload) and jwt not in repr(exchanged)
    assert workload.context.environment.get(f"K_{unique}") == "federated-value-77"
    assert workload.whoami().kind == "identity"

    # Refused, with the code, and the JWT is not in the exception.
    other = signer.sign({**claims, "sub": "system:serviceaccount:other:worker"})
    with pytest.raises(sealbox.Unauthorized) as refused:
        server.client().with_token(None).exchange_jwt(other, identity=name)
    assert refused.value.code == "auth.jwt_claims"
    assert other not in str(refused.value) and other not in repr(refused.value)
    with pytest.raises(sealbox.Unauthorized) as malformed:
        server.client().with_token(None).exchange_jwt("not-a-jwt", identity=name)
    assert malformed.value.code == "auth.jwt_malformed"

    owner.identities.remove_federation(name, trust.id)
    with pytest.raises(sealbox.Unauthorized) as removed:
        server.client().with_token(None).exchange_jwt(jwt, identity=name)
    assert removed.value.code == "auth.jwt_issuer_untrusted"


def test_issue_14_workspace_settings_bound_token_lifetimes(server: Server, unique: str) -> None:
    # A workspace of its own, so the limits do not reach the other tests.
    ws = server.client().with_token(server.owner_token)
    created = ws._request("POST", ["workspaces"], body={"name": f"lifetimes-{unique}"})
    client = sealbox.Client(addr=server.addr, token=created["token"])
    assert client.workspace_settings().max_token_ttl_seconds is None
    settings = client.update_workspace_settings(max_token_ttl_seconds=90 * 86400, default_token_ttl_seconds=30 * 86400)
    assert (settings.max_token_ttl_seconds, settings.default_token_ttl_seconds) == (7776000, 2592000)
    with pytest.raises(sealbox.Invalid) as too_long:
        client.tokens.create(f"long_{unique}", expires_in_seconds=365 * 86400)
    assert too_long.value.code == "token.ttl_above_maximum" and "90d" in str(too_long.value)
    token = client.tokens.create(f"default_{unique}")
    assert token.info.expires_at is not None and token.info.state == "active"
    soon = client.tokens.create(f"soon_{unique}", expires_in_seconds=3600)
    assert [t.state for t in client.tokens.list() if t.id == soon.info.id] == ["expiring"]
    # None removes a setting; one left out stays.
    settings = client.update_workspace_settings(default_token_ttl_seconds=None)
    assert (settings.max_token_ttl_seconds, settings.default_token_ttl_seconds) == (7776000, None)
