"""The README's testing section works as written: its pytest example, its Mocha recipe, and
its CI service container recipe (checked against the Dockerfile's image)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "tests" / "compat" / "node" / "node_modules"


def readme_testing_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## Testing your application", 1)[1].split("\n## ", 1)[0]


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", readme_testing_section(), re.S)


def test_the_readme_pytest_example_passes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Testing your application", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example is not None
    assert len(example.group(1).strip().splitlines()) == 5
    (tmp_path / "test_readme_example.py").write_text(example.group(1))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


@pytest.mark.skipif(shutil.which("node") is None or not (NODE_MODULES / ".bin" / "mocha").exists(),
                    reason="needs Node and tests/compat/node/node_modules (./dev test installs "
                           "them)")
def test_the_readme_mocha_recipe_passes(tmp_path: Path) -> None:
    # The README's two JavaScript files, each named by its first line's comment.
    files = {}
    for block in code_blocks("js"):
        name = re.match(r"// (\S+\.js)", block)
        assert name is not None, block.splitlines()[0]
        files[name.group(1)] = block
    assert set(files) == {"switchboard.setup.js", "taskrouter.test.js"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "node_modules").symlink_to(NODE_MODULES)  # mocha and twilio, pinned
    command = re.search(r"^// \S+: npx (mocha .*)$", files["switchboard.setup.js"], re.M)
    assert command is not None
    # `switchboard` is this environment's; no TWILIO_* (edge and region rewrite the host) and
    # no proxy for loopback.
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("TWILIO_", "SWITCHBOARD_"))
           and name.lower() not in ("http_proxy", "https_proxy")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               NO_PROXY="127.0.0.1,localhost")
    argv = shlex.split(command.group(1))
    run = subprocess.run([str(NODE_MODULES / ".bin" / argv[0]), *argv[1:]], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passing" in run.stdout, run.stdout


def test_the_readme_ci_service_container_fits_the_image(tmp_path: Path) -> None:
    """GitHub's service containers take an image, env, ports and options, no command: the
    recipe's environment must make the image's entrypoint an ephemeral manual-clock server on
    the port it publishes."""
    (block,) = code_blocks("yaml")
    (service,) = yaml.safe_load(block)["services"].values()
    assert set(service) <= {"image", "credentials", "env", "ports", "volumes", "options"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    entrypoint = re.search(r"^ENTRYPOINT (.*)$", dockerfile, re.M)
    assert entrypoint is not None and json.loads(entrypoint.group(1)) == ["switchboard", "serve"]
    image_env = dict(re.findall(r"(SWITCHBOARD_\w+)=(\S+)", " ".join(
        re.findall(r"^ENV ((?:.*\\\n)*.*)$", dockerfile, re.M))))
    exposed = re.search(r"^EXPOSE (.*)$", dockerfile, re.M)
    assert exposed is not None
    (ports,) = service["ports"]
    assert ports == f"{image_env['SWITCHBOARD_PORT']}:{image_env['SWITCHBOARD_PORT']}"
    assert image_env["SWITCHBOARD_PORT"] in exposed.group(1).split()
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile

    # The entrypoint with the image's environment and the recipe's, on loopback and a free port
    # here: an in-memory server with the manual clock and the recipe's account.
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("SWITCHBOARD_")}
    env.update(image_env, **{k: str(v) for k, v in service["env"].items()},
               SWITCHBOARD_HOST="127.0.0.1", SWITCHBOARD_PORT="0",
               SWITCHBOARD_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    server = subprocess.Popen([sys.executable, "-m", "switchboard", "serve"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        for line in server.stdout:  # after "Created account …", the first time
            if found := re.search(r"Serving the TaskRouter API on (\S+)/v1 \((.*)\)", line):
                break
        assert found is not None
        assert found.group(2) == "clock: manual, in memory"
        url, auth = found.group(1), (service["env"]["SWITCHBOARD_ACCOUNT_SID"],
                                     service["env"]["SWITCHBOARD_AUTH_TOKEN"])
        assert httpx.get(f"{url}/healthz", trust_env=False).status_code == 200
        assert httpx.get(f"{url}/v1/Workspaces", auth=auth, trust_env=False).status_code == 200
        assert httpx.get(f"{url}/dev/clock", auth=auth, trust_env=False).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert list(tmp_path.iterdir()) == []  # nothing on disk
