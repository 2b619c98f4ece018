"""Fixtures shared by the annotation tests: ``database_url`` runs a test on SQLite and on PostgreSQL."""

import pytest

from .databases import KINDS, database


@pytest.fixture(params=KINDS)
def database_url(request, tmp_path):
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def other_database_url(request, tmp_path, database_url):
    kind = "sqlite" if database_url.startswith("sqlite") else "postgres"
    with database(kind, tmp_path, "other") as url:
        yield url
