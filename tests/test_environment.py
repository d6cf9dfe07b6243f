"""Dependencies are declared once in pyproject.toml; environment.yml mirrors them."""

from __future__ import annotations

import tomllib

import yaml

from toolkit.cache import REPO_ROOT


def _pip_section(env: dict) -> list[str]:
    for dep in env["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return dep["pip"]
    raise AssertionError("environment.yml has no pip section")


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {"test", "ray"} <= set(extras)  # make test installs both
    declared = set(project["dependencies"]).union(*extras.values())
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = _pip_section(env)
    assert "-e ." in pip, "environment.yml must install the project itself"
    mirrored = {d for d in pip if not d.startswith("-e")}
    assert mirrored == declared, (f"only in pyproject: {sorted(declared - mirrored)}; "
                                  f"only in environment.yml: {sorted(mirrored - declared)}")


def test_torch_pair_is_pinned():
    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps
