"""Fixtures of the deployment checks: the manifests rendered once per session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.deploy_helpers import (
    BASE,
    CLEAN_SHARDED_COMPONENT,
    EXAMPLE_OVERLAY,
    K8S,
    SHARDED_COMPONENT,
    render,
)


@pytest.fixture(scope="session")
def top_objects() -> list[dict[str, Any]]:
    """`kubectl kustomize k8s`: what Rahti runs (the base plus the OpenShift component)."""
    return render(K8S)


@pytest.fixture(scope="session")
def base_objects() -> list[dict[str, Any]]:
    """`kubectl kustomize k8s/base`: plain Kubernetes."""
    return render(BASE)


@pytest.fixture(scope="session")
def overlay_objects() -> list[dict[str, Any]]:
    return render(EXAMPLE_OVERLAY)


def with_component(overlay: Path, component: Path) -> list[dict[str, Any]]:
    """The base with one component, as an overlay would use it."""
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(BASE, overlay)}\n"
        f"components:\n  - {os.path.relpath(component, overlay)}\n"
    )
    return render(Path(overlay))


@pytest.fixture(scope="session")
def sharded_objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The base with the finnhub-sharded component."""
    return with_component(tmp_path_factory.mktemp("sharded-overlay"), SHARDED_COMPONENT)


@pytest.fixture(scope="session")
def clean_sharded_objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The base with the clean-sharded component."""
    return with_component(tmp_path_factory.mktemp("clean-sharded"), CLEAN_SHARDED_COMPONENT)


@pytest.fixture(
    scope="session",
    params=[
        "k8s",
        "base",
        "overlays/example",
        "components/finnhub-sharded",
        "components/clean-sharded",
    ],
)
def every_rendering(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """Each way the manifests are rendered; policy checks run on all of them."""
    fixture = {
        "k8s": "top_objects",
        "base": "base_objects",
        "overlays/example": "overlay_objects",
        "components/finnhub-sharded": "sharded_objects",
        "components/clean-sharded": "clean_sharded_objects",
    }[request.param]
    objects: list[dict[str, Any]] = request.getfixturevalue(fixture)
    return objects
