"""Our top-level packages are the repo's own, not same-named distributions from PyPI."""

from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path

import pytest

from tests.support.paths import REPO

PACKAGES = ("taskql", "schema", "resolvers", "auth", "db", "contract")


@pytest.mark.parametrize("name", PACKAGES)
def test_package_imports_from_this_repository(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == REPO / name


@pytest.mark.parametrize("name", PACKAGES)
def test_no_installed_distribution_claims_the_package(name: str) -> None:
    owners = metadata.packages_distributions().get(name, [])
    assert set(owners) <= {"taskql"}, f"{name} is also provided by {owners}"
