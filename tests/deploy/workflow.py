"""A GitHub workflow's own `run:` steps, run by bash as Actions runs them: `${{ … }}` in a
step's env filled from the given inputs and vars (`a || 'b'` as Actions reads it), GitHub's
variables set, `startpoints` on the PATH being this tree's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml


def expression(value: Any, contexts: dict[str, dict[str, str]]) -> str:
    text = str(value).strip()
    if not (text.startswith("${{") and text.endswith("}}")):
        return text
    for operand in text[3:-2].split("||"):
        operand = operand.strip()
        if operand.startswith("'") and operand.endswith("'"):
            found = operand[1:-1]
        else:
            context, _, name = operand.partition(".")
            found = contexts.get(context, {}).get(name, "")
        if found:
            return found
    return ""


def run_steps(
    workflow: Path,
    job: str,
    names: list[str],
    cwd: Path,
    contexts: dict[str, dict[str, str]],
    github: dict[str, str],
    tmp: Path,
) -> dict[str, str]:
    """Run the steps of `job` named `names`, in order, in `cwd`; each must succeed. Returns
    what they wrote to $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "startpoints"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m startpoints "$@"\n')
    wrapper.chmod(0o755)
    written = {"output": tmp / "github_output", "summary": tmp / "github_summary"}
    for file in written.values():
        file.write_text("")
    ran = []
    for step in yaml.safe_load(workflow.read_text())["jobs"][job]["steps"]:
        if step.get("name") not in names:
            continue
        env = {
            **os.environ,
            **github,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "GITHUB_OUTPUT": str(written["output"]),
            "GITHUB_STEP_SUMMARY": str(written["summary"]),
            "HOME": str(tmp),
            "DOCKER_CONFIG": str(tmp / ".docker"),
        }
        env.update({k: expression(v, contexts) for k, v in step.get("env", {}).items()})
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{step['name']}: {done.stdout}{done.stderr}"
        ran.append(step["name"])
    assert ran == names
    return {name: file.read_text() for name, file in written.items()}
