"""Keys: the instance folder is configurable and holds every instance file; the local Forge
signing key is trusted in simulated mode only and after Atlassian's JWKS; `mulesight keys rotate`
re-encrypts every stored secret and loses none. See docs/security.md ("Keys")."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.auth import devtokens
from app.cli_keys import keys
from app.config import FORGE_JWKS_URL
from app.crypto import SecretBox
from app.models import Job, Space
from app.storage import ensure_installation, save_connection
from tests.app.conftest import APP_ID, make_app, public_jwk, rsa_key

SECRETS = {f"S{i}": f"client-secret-{i}-{'x' * i}" for i in range(1, 6)}
OLD_KEY = "old-secret-key-0123456789abcdef"
NEW_KEY = "new-secret-key-fedcba9876543210"


# -- the instance folder ---------------------------------------------------------------------------


def test_every_instance_file_lives_in_the_configured_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mulesight-instance"
    monkeypatch.setenv("MULESIGHT_INSTANCE_PATH", str(folder))
    app = create_app({"TESTING": True, "FORGE_APP_ID": APP_ID})
    try:
        assert app.instance_path == str(folder)
        assert app.config["MULESIGHT_INSTANCE_PATH"] == str(folder)
        names = {p.name for p in folder.iterdir()}
        assert {"mulesight.db", "secret_key", devtokens.KEY_FILE} <= names
        for name in ("secret_key", devtokens.KEY_FILE):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    finally:
        app.extensions["db"].dispose()


# -- the local signing key ------------------------------------------------------------------------


def local_token(app: Flask) -> str:
    key = devtokens.local_signing_key(app.instance_path)
    return devtokens.mint_local_token(key, site_url="https://acme.atlassian.net", app_id=APP_ID)


def call(app: Flask, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return app.test_client().get("/forge/v1/connection?space_key=OPS", headers=headers).status_code


def test_the_local_key_answers_only_what_the_jwks_does_not(app: Flask) -> None:
    token = local_token(app)
    with responses.RequestsMock() as mock:  # Atlassian reachable, without the local kid
        mock.get(FORGE_JWKS_URL, json={"keys": [public_jwk(rsa_key(), "forge-1")]})
        assert call(app, token) == 404  # authenticated; no such space
        assert len(mock.calls) == 1  # Atlassian's keys were consulted first


def test_a_jwks_key_with_the_local_kid_wins(app_config: dict[str, Any]) -> None:
    app = make_app(app_config)
    try:
        token = local_token(app)
        impostor = public_jwk(rsa_key("other"), devtokens.LOCAL_KID)
        with responses.RequestsMock() as mock:
            mock.get(FORGE_JWKS_URL, json={"keys": [impostor]})
            assert call(app, token) == 401  # verified against the JWKS key, which did not sign it
    finally:
        app.extensions["db"].dispose()


def test_the_local_key_works_offline_and_never_in_live_mode(app_config: dict[str, Any]) -> None:
    app = make_app(app_config)
    live = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    try:
        token = local_token(app)
        with responses.RequestsMock() as mock:  # no network at all
            assert call(app, token) == 404
            assert call(app, token) == 404  # no second fetch attempt right away
            assert len(mock.calls) == 1
            assert call(live, token) in (401, 503)
    finally:
        app.extensions["db"].dispose()
        live.extensions["db"].dispose()


# -- rotating the secret key -----------------------------------------------------------------------


def store_secrets(app: Flask) -> None:
    with app.app_context(), app.extensions["db"].session() as session:
        ensure_installation(session, "inst-1", "cloud-1")
        for key, secret in SECRETS.items():
            save_connection(
                session,
                app.extensions["secret_box"],
                "inst-1",
                space_key=key,
                client_id="c",
                control_plane="us",
                sync_interval_hours=24,
                client_secret=secret,
            )
        session.commit()


def stored(app: Flask) -> dict[str, str]:
    with app.extensions["db"].session() as session:
        return {
            s.key: s.client_secret_encrypted or ""
            for s in session.scalars(select(Space).order_by(Space.key))
        }


def readable(box: SecretBox, tokens: dict[str, str]) -> dict[str, str]:
    return {key: box.decrypt(token) for key, token in tokens.items()}


def test_rotating_an_environment_key_loses_no_secret(app_config: dict[str, Any]) -> None:
    database = f"sqlite:///{Path(app_config['INSTANCE_PATH']).parent / 'keys.db'}"
    old_app = make_app(
        {**app_config, "MULESIGHT_SECRET_KEY": OLD_KEY, "MULESIGHT_DATABASE_URL": database}
    )
    store_secrets(old_app)
    before = stored(old_app)
    old_app.extensions["db"].dispose()
    both = make_app(
        {
            **app_config,
            "MULESIGHT_SECRET_KEY": NEW_KEY,
            "MULESIGHT_SECRET_KEY_PREVIOUS": OLD_KEY,
            "MULESIGHT_DATABASE_URL": database,
        }
    )
    try:
        # During rotation both keys read: old values, and new ones written under the new key.
        assert readable(both.extensions["secret_box"], before) == SECRETS
        result = both.test_cli_runner().invoke(keys, ["rotate"])
        assert result.exit_code == 0, result.output
        assert "Re-encrypted 5 stored secret(s)" in result.output
        after = stored(both)
        assert set(after) == set(SECRETS) and all(after[k] != before[k] for k in SECRETS)
        assert readable(SecretBox(NEW_KEY), after) == SECRETS  # the new key alone reads all
        again = both.test_cli_runner().invoke(keys, ["rotate"])
        assert (
            "Re-encrypted 0 stored secret(s) under the current key; 5 already were" in again.output
        )
    finally:
        both.extensions["db"].dispose()


def test_rotating_the_instance_key_file_loses_no_secret(app: Flask) -> None:
    store_secrets(app)
    instance = Path(app.instance_path)
    old_key = (instance / "secret_key").read_text().strip()
    result = app.test_cli_runner().invoke(keys, ["rotate", "--new-key"])
    assert result.exit_code == 0, result.output
    new_key = (instance / "secret_key").read_text().strip()
    assert new_key != old_key
    assert (instance / "secret_key.previous").read_text().split() == [old_key]
    assert stat.S_IMODE((instance / "secret_key.previous").stat().st_mode) == 0o600
    assert readable(SecretBox(new_key), stored(app)) == SECRETS
    # A restarted service reads with the new key; the old one can then be forgotten.
    forget = app.test_cli_runner().invoke(keys, ["rotate", "--forget-previous"])
    assert forget.exit_code == 0 and not (instance / "secret_key.previous").exists()
    assert readable(SecretBox(new_key), stored(app)) == SECRETS


def test_new_key_is_refused_when_the_key_comes_from_the_environment(
    app_config: dict[str, Any],
) -> None:
    app = make_app({**app_config, "MULESIGHT_SECRET_KEY": OLD_KEY})
    try:
        result = app.test_cli_runner().invoke(keys, ["rotate", "--new-key"])
        assert result.exit_code == 2 and "MULESIGHT_SECRET_KEY_PREVIOUS" in result.output
    finally:
        app.extensions["db"].dispose()


def test_a_secret_no_key_reads_is_reported_and_left_as_is(app: Flask) -> None:
    store_secrets(app)
    foreign = SecretBox("a-key-nobody-has-anymore-1234").encrypt("lost")
    with app.extensions["db"].session() as session:
        space = session.scalar(select(Space).where(Space.key == "S1"))
        assert space is not None
        space.client_secret_encrypted = foreign
        session.commit()
    result = app.test_cli_runner().invoke(keys, ["rotate", "--new-key"])
    assert result.exit_code == 2
    assert "1 stored secret(s) could not be read" in result.output and "space S1" in result.output
    after = stored(app)
    assert after["S1"] == foreign
    new_box = app.extensions["secret_box"]
    assert readable(new_box, {k: v for k, v in after.items() if k != "S1"}) == {
        k: v for k, v in SECRETS.items() if k != "S1"
    }
    assert (Path(app.instance_path) / "secret_key.previous").exists()  # kept: not forgotten


def test_a_waiting_job_s_system_token_is_rotated_too(app: Flask) -> None:
    box = app.extensions["secret_box"]
    with app.extensions["db"].session() as session:
        for key, status in (("run:waiting", "queued"), ("run:finished", "done")):
            session.add(
                Job(
                    key=key,
                    kind="diagnostic_run",
                    payload={"run_id": key, "system_token": box.encrypt(f"forge-token-{key}")},
                    status=status,
                )
            )
        session.commit()
    old_key = (Path(app.instance_path) / "secret_key").read_text().strip()
    result = app.test_cli_runner().invoke(keys, ["rotate", "--new-key"])
    assert result.exit_code == 0, result.output
    new_box = SecretBox((Path(app.instance_path) / "secret_key").read_text().strip())
    with app.extensions["db"].session() as session:
        tokens = {j.key: j.payload["system_token"] for j in session.scalars(select(Job))}
    assert new_box.decrypt(tokens["run:waiting"]) == "forge-token-run:waiting"
    assert SecretBox(old_key).decrypt(tokens["run:finished"]) == "forge-token-run:finished"


def test_processes_starting_together_end_up_with_one_signing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gunicorn and the workers start together: one that looked before another wrote the key
    must use the winner's key, not fail on the file that appeared meanwhile (seen in CI)."""
    from app.auth import devtokens

    first = devtokens.local_signing_key(str(tmp_path))
    monkeypatch.setattr(Path, "exists", lambda _self: False)  # looked before the key was written
    second = devtokens.local_signing_key(str(tmp_path))
    assert first.private_numbers() == second.private_numbers()
    assert [p.name for p in tmp_path.iterdir()] == [devtokens.KEY_FILE]  # no temporary file left


def test_the_instance_secret_key_is_shared_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import instance_secret_key

    path = tmp_path / "secret-key"
    first = instance_secret_key(path)
    monkeypatch.setattr(Path, "exists", lambda _self: False)
    assert instance_secret_key(path) == first
