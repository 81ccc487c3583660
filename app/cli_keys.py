"""`mulesight keys rotate`: re-encrypt every stored secret under the current secret key.

Two ways to rotate (docs/security.md, "Keys"):

- ``MULESIGHT_SECRET_KEY`` from the environment: set it to the new key and
  ``MULESIGHT_SECRET_KEY_PREVIOUS`` to the old one, restart the service (both keys read), run
  ``mulesight keys rotate``, then drop ``MULESIGHT_SECRET_KEY_PREVIOUS`` and restart.
- The instance's own key file: ``mulesight keys rotate --new-key`` keeps the old key in
  ``secret_key.previous`` first, writes a new ``secret_key``, then re-encrypts; restart the service.
  Once every process runs on the new key, ``--forget-previous`` deletes the old one.

Nothing is lost at any step: the old key is kept before the new one is written, values are
re-encrypted in one transaction, and a value no key can read is reported and left untouched.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import audit
from app.config import SECRET_KEY_FILE
from app.crypto import PREVIOUS_KEYS_FILE, SecretBox, SecretDecryptionError, previous_keys
from app.models import Job, Space
from app.queue.store import DONE
from app.unit_of_work import context_unit_of_work
from diagnostics.commands import InputError

CLI_ACTOR = "cli"
JOB_SECRET = "system_token"  # the encrypted secret a job payload may carry (services.runs)


@dataclass
class Rotation:
    rotated: int = 0
    already_current: int = 0
    unreadable: list[str] = field(default_factory=list)


def rotate_stored_secrets(session: Session, box: SecretBox) -> Rotation:
    """Re-encrypt every stored secret under ``box``'s current key; one commit.

    Stored secrets: each space's connected-app client secret, and the Forge system token that a
    job not yet finished carries. (The shared Anypoint token cache in Redis is not rotated: an
    entry no key can read is a cache miss, and a new token is fetched.)
    """
    result = Rotation()
    spaces = session.scalars(
        select(Space).where(Space.client_secret_encrypted.is_not(None)).order_by(Space.id)
    )
    for space in spaces:
        where = f"space {space.key} of installation {space.installation_id}"
        space.client_secret_encrypted = _rotated(box, space.client_secret_encrypted, where, result)
    for job in session.scalars(select(Job).where(Job.status != DONE).order_by(Job.id)):
        token = job.payload.get(JOB_SECRET)
        if token:
            rotated = _rotated(box, token, f"job {job.key}", result)
            job.payload = {**job.payload, JOB_SECRET: rotated}  # a new dict: the change is seen
    return result


def _rotated(box: SecretBox, token: str | None, where: str, result: Rotation) -> str | None:
    """``token`` under the current key (counted in ``result``); unreadable ones stay as they are."""
    if token is None:
        return None
    if box.is_current(token):
        result.already_current += 1
        return token
    try:
        rotated = box.rotate(token)
    except SecretDecryptionError:
        result.unreadable.append(where)
        return token
    result.rotated += 1
    return rotated


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (mode 0600) through a temporary file and an atomic rename."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _file_mode(instance: Path, current: str) -> bool:
    key_file = instance / SECRET_KEY_FILE
    return key_file.exists() and key_file.read_text("ascii").strip() == current


def _new_instance_key(instance: Path, current: str) -> str:
    """Keep ``current`` in the previous-keys file, then write and return a new key."""
    kept = instance / PREVIOUS_KEYS_FILE
    older = kept.read_text("ascii").splitlines() if kept.exists() else []
    _write_private(kept, "\n".join([current, *[k for k in older if k.strip()]]) + "\n")
    new_key = secrets.token_urlsafe(48)
    _write_private(instance / SECRET_KEY_FILE, new_key)
    return new_key


@click.group()
def keys() -> None:
    """The key that encrypts stored secrets."""


@keys.command("rotate")
@click.option("--new-key", is_flag=True, help="Generate a new instance key first (key file only).")
@click.option(
    "--forget-previous",
    is_flag=True,
    help="Delete the instance's previous keys (after every process runs on the current key).",
)
@with_appcontext
def keys_rotate(new_key: bool, forget_previous: bool) -> None:
    """Re-encrypt every stored secret under the current key (earlier keys still read)."""
    config = current_app.config
    instance = Path(current_app.instance_path)
    current = config["MULESIGHT_SECRET_KEY"]
    if new_key:
        if not _file_mode(instance, current):
            raise InputError(
                "--new-key rotates the instance's key file, but MULESIGHT_SECRET_KEY comes from "
                "the environment: set it to the new key and MULESIGHT_SECRET_KEY_PREVIOUS to the "
                "old one, restart the service, then run `mulesight keys rotate`"
            )
        current = _new_instance_key(instance, current)
        config["MULESIGHT_SECRET_KEY"] = current
    box = SecretBox(
        current, previous_keys(config.get("MULESIGHT_SECRET_KEY_PREVIOUS"), str(instance))
    )
    current_app.extensions["secret_box"] = box
    with context_unit_of_work() as session:
        result = rotate_stored_secrets(session, box)
        audit(CLI_ACTOR, "secret_key.rotate", target=f"{result.rotated} re-encrypted")
    click.echo(
        f"Re-encrypted {result.rotated} stored secret(s) under the current key; "
        f"{result.already_current} already were.",
        err=True,
    )
    if new_key:
        click.echo(
            f"A new key is in {instance / SECRET_KEY_FILE}; the old one is kept in "
            f"{instance / PREVIOUS_KEYS_FILE}. Restart the service now.",
            err=True,
        )
    if result.unreadable:
        raise InputError(
            f"{len(result.unreadable)} stored secret(s) could not be read with any known key and "
            f"were left as they are: {'; '.join(result.unreadable)}. Add the key they were "
            "written with to MULESIGHT_SECRET_KEY_PREVIOUS and run this again, or save those "
            "connections' client secrets again."
        )
    if forget_previous:
        (instance / PREVIOUS_KEYS_FILE).unlink(missing_ok=True)
        click.echo("The instance's previous keys are deleted.", err=True)


def register(group: click.Group) -> None:
    group.add_command(keys)
