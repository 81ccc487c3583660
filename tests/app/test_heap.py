"""Long-running processes freeze the objects of their built app (app/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from flask import Flask

from app import gunicorn_conf
from app.heap import freeze_startup_objects


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


class Marker:
    """An object a full collection would walk unless it is frozen."""


def test_objects_alive_at_start_up_are_not_walked_by_later_collections() -> None:
    built = Marker()
    frozen = freeze_startup_objects()
    created_later = Marker()

    assert frozen == gc.get_freeze_count() > 0
    tracked = {id(obj) for obj in gc.get_objects()}
    assert id(built) not in tracked  # in the permanent generation
    assert id(created_later) in tracked  # what requests create is still collected


def test_a_gunicorn_worker_freezes_its_app_once_it_is_built(app: Flask) -> None:
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app))

    assert gc.get_freeze_count() > 0
