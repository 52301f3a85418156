"""indigo API Block / TagoIO Actions: the server makes the call; the caller never sees the value."""

from __future__ import annotations

import json

import pytest

import sealbox
from conftest import Recorder, Server

API_KEY = "sk_live_action_value_9f8e7d"


def test_http_action_uses_the_secret_and_redacts_the_reply(
    private_server: Server, recorder: Recorder, unique: str
) -> None:
    owner = private_server.client()
    owner.secrets.create(name=f"HOOK_KEY_{unique}", value=API_KEY, tags={"team": f"t{unique}"})
    definition = {
        "kind": "http",
        "method": "POST",
        "url": f"{recorder.url}/hook",
        "headers": {"Authorization": "Bearer {secrets.HOOK_KEY_%s}" % unique},
        "body": "{input.message}",
    }
    action = owner.actions.create(f"notify_{unique}", definition)
    assert action.kind == "http"
    assert action.secrets == [f"HOOK_KEY_{unique}"]
    assert action.inputs == ["message"]
    assert f"notify_{unique}" in {a.name for a in owner.actions.list()}
    assert owner.actions.get(f"notify_{unique}").definition["url"] == f"{recorder.url}/hook"

    run = owner.actions.run(f"notify_{unique}", input={"message": "hello"})
    assert run.kind == "http" and run.destination == "127.0.0.1"
    assert run.http is not None and run.http.status == 200
    # The destination got the real value; the caller gets it redacted.
    method, path, headers, body = recorder.requests[-1]
    assert (method, path, body) == ("POST", "/hook", b"hello")
    assert {k.lower(): v for k, v in headers.items()}["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in run.http.body and API_KEY not in repr(run)
    assert json.loads(run.http.body)["you_sent"] == "Bearer [REDACTED]"

    owner.actions.update(f"notify_{unique}", {**definition, "body": "fixed body"})
    assert owner.actions.get(f"notify_{unique}").inputs == []
    owner.actions.delete(f"notify_{unique}")
    with pytest.raises(sealbox.NotFound):
        owner.actions.get(f"notify_{unique}")


def test_run_unsaved_and_use_only_identity(private_server: Server, recorder: Recorder, unique: str) -> None:
    owner = private_server.client()
    key = f"USE_KEY_{unique}"
    owner.secrets.create(name=key, value=API_KEY, tags={"team": f"t{unique}"})
    definition = {"kind": "http", "method": "GET", "url": f"{recorder.url}/ping", "query": {"key": "{secrets.%s}" % key}}
    run = owner.actions.run_unsaved(definition)
    assert run.action == "(unsaved)" and run.http is not None and run.http.status == 200
    assert recorder.requests[-1][1] == f"/ping?key={API_KEY}"

    owner.actions.create(f"ping_{unique}", definition)
    ident = f"bot_{unique}"
    owner.identities.create(ident)
    token = owner.identities.create_token(ident, "t").token
    bot = private_server.client(token)
    # No policy yet: refused, and the destination is not called.
    calls = len(recorder.requests)
    with pytest.raises(sealbox.Forbidden) as info:
        bot.actions.run(f"ping_{unique}")
    assert info.value.code == "action.reference_invalid"
    assert len(recorder.requests) == calls
    owner.policies.create(f"use_{unique}", allow=["use"], identities=[ident], secret_tags={"team": f"t{unique}"})
    assert bot.actions.run(f"ping_{unique}").http.status == 200  # type: ignore[union-attr]
    assert key not in bot.environment()


def test_bad_definition_and_refused_destination(server: Server, owner: sealbox.Client, unique: str) -> None:
    with pytest.raises(sealbox.Invalid) as info:
        owner.actions.create(f"bad_{unique}", {"kind": "http", "method": "FETCH", "url": "http://127.0.0.1/"})
    assert info.value.code == "action.definition_invalid"
    # The session server does not allow loopback destinations.
    with pytest.raises(sealbox.Invalid) as info:
        owner.actions.run_unsaved({"kind": "http", "method": "GET", "url": "http://127.0.0.1:9/"})
    assert info.value.code == "action.destination_refused"
    assert info.value.status == 422
    assert "--allow-private-destinations" in info.value.message
