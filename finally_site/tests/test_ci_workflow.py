"""The GitHub Actions workflow (.github/workflows/ci.yml), checked offline: valid by GitHub's workflow schema
(check-jsonschema's vendored copy), free of zizmor's security findings, and doing what it is for. And the tree
stays clean by ruff's rules (pyproject.toml), as the workflow's lint job checks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent  # the tools requirements-dev.txt installs beside this Python
PUSH_ON_A_TAG = "startsWith(github.ref, 'refs/tags/v')"


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess:
    tool = BIN / name
    assert tool.exists(), f"{tool} is missing: pip install -r requirements-dev.txt"
    return subprocess.run([str(tool), *args], cwd=ROOT, capture_output=True, text=True, timeout=180)


def said(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def check_schema(path: Path) -> subprocess.CompletedProcess:
    return run_tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(path))


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps_of(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def test_the_workflow_is_valid_by_githubs_schema():
    result = check_schema(WORKFLOW)
    assert result.returncode == 0, said(result)


def test_the_schema_check_fails_a_broken_workflow(tmp_path, workflow):
    # Steps that are not a list, and (in a copy of ours) a job with nowhere to run: both refused.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: run the tests\n")
    result = check_schema(broken)
    assert result.returncode != 0, said(result)
    assert "steps" in result.stdout + result.stderr, said(result)
    del workflow["jobs"]["lint"]["runs-on"]
    ours_broken = tmp_path / "ours-broken.yml"
    ours_broken.write_text(yaml.safe_dump(workflow))
    result = check_schema(ours_broken)
    assert result.returncode != 0, said(result)


def test_zizmor_finds_nothing():
    result = run_tool("zizmor", "--offline", str(WORKFLOW.relative_to(ROOT)))
    assert result.returncode == 0, said(result)


def test_the_tree_is_clean_by_ruff():
    result = run_tool("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, said(result)


def test_it_runs_on_pushes_pull_requests_and_version_tags(workflow):
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    assert on["push"]["tags"] == ["v*"] and on["push"]["branches"] == ["**"]  # tags alone would skip branches
    assert workflow["permissions"] == {"contents": "read"}


def test_the_test_job_runs_the_projects_ci_script_on_debian(workflow):
    job = workflow["jobs"]["test"]
    assert job["container"]["image"] == "debian:bookworm" and job["timeout-minutes"] == 90
    assert job["env"]["CI"] == "true"
    runs = [step.get("run", "") for step in job["steps"]]
    assert runs[-1].strip() == "bash .ci/run"
    assert all(package in runs[0] for package in ("python3", "python3-venv", "make", "git", "ca-certificates"))


def test_the_lint_job_runs_ruff_at_the_pinned_version(workflow):
    runs = "\n".join(step.get("run", "") for step in steps_of(workflow, "lint"))
    assert "ruff check" in runs and "requirements-dev.txt" in runs
    pinned = re.findall(r"^ruff==[0-9.]+", (ROOT / "requirements-dev.txt").read_text(), flags=re.MULTILINE)
    assert len(pinned) == 1, pinned  # what the job's grep finds


def test_the_image_is_pushed_only_on_a_version_tag(workflow):
    job = workflow["jobs"]["image"]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    assert not any("permissions" in other for name, other in workflow["jobs"].items() if name != "image")
    by_action = {step["uses"].split("@")[0]: step for step in job["steps"] if "uses" in step}
    assert by_action["docker/build-push-action"]["with"]["push"] == "${{ " + PUSH_ON_A_TAG + " }}"
    assert by_action["docker/login-action"]["if"] == PUSH_ON_A_TAG
    assert set(job["needs"]) == {"test", "lint"}  # a tag's image only after its tests pass


def test_every_action_is_pinned_to_a_commit_with_its_version_named():
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", WORKFLOW.read_text(), flags=re.MULTILINE)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r" # v\d+(\.\d+)*", comment), (action, comment)
