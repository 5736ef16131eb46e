"""The Dockerfile builds, and its image serves: podman builds it on a Debian base made here with
debootstrap (no registry is reachable, so nothing is pulled), then the image's entrypoint runs as
its user, with its environment, in a chroot of the exported filesystem (`podman run` is not
available on the machines that run this), and answers /healthz, its HEALTHCHECK and a real
request.

Needs root, podman and debootstrap (`./dev test` installs the latter two with apt-get). Under CI
it fails when it cannot run; elsewhere it skips with the reason."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# The base tarball takes about a minute to make: kept between runs, remade when missing.
CACHE_DIR = Path(os.environ.get("SWITCHBOARD_TEST_CACHE_DIR", "/var/cache/switchboard-tests"))
BASE_RECIPE = 1  # bump when make_base changes what goes into the tarball
TOOLS = ("podman", "debootstrap", "unshare", "chroot", "mount", "tar")
ACCOUNT_SID = "AC" + "c" * 32
AUTH_TOKEN = "container-test-token"
# What debian:*-slim leaves out; the same dpkg filter keeps the build's apt-get installs small.
SLIM_DPKG_FILTER = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
"""


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the container image test cannot run: {reason}")
    pytest.skip(reason)


def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv[:4])} … exited {result.returncode}:\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [point for point in points if point == prefix or point.startswith(prefix + "/")]


def remove_tree(path: Path) -> None:
    # Never delete through a mount (a bound /dev would go with it).
    assert not mounts_under(path), f"still mounted under {path}: {mounts_under(path)}"
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True, timeout=600)


# ---------------------------------------------------------------------- the Debian base


def dockerfile_base() -> tuple[str, str]:
    """The FROM image of the Dockerfile and the Debian suite it stands for."""
    match = re.search(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert match, "the Dockerfile has no FROM"
    image = match.group(1)
    suite = re.match(r"(?:.*/)?debian:(\w+)", image)
    assert suite, f"FROM {image}: the test makes Debian bases only"
    return image, suite.group(1)


def debian_mirror(suite: str) -> str:
    """The mirror apt is configured with for the suite's main component (Debian's own: other
    repositories have other components): the only way out to Debian's packages."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text()
        if path.suffix == ".sources":  # deb822 stanzas
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, list[str]] = {}
                for line in stanza.splitlines():
                    if line.startswith(("#", " ", "\t")) or ":" not in line:
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.split()
                if ("deb" in fields.get("types", []) and suite in fields.get("suites", [])
                        and "main" in fields.get("components", [])
                        and fields.get("enabled", ["yes"]) != ["no"] and fields.get("uris")):
                    return fields["uris"][0]
        elif path.suffix == ".list" or path.name == "sources.list":  # one-line entries
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if words[:1] == ["deb"] and words[2:3] == [suite] and "main" in words[3:]:
                    return words[1]
    raise AssertionError(f"no apt source for Debian {suite} in /etc/apt/sources.list*")


def make_base(suite: str) -> Path:
    """A tarball of a minimal Debian tree, slimmed like the official -slim images."""
    tarball = CACHE_DIR / f"debian-{suite}-minbase-r{BASE_RECIPE}.tar"
    if tarball.exists():
        return tarball
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tree = CACHE_DIR / f"{tarball.stem}.tree.{os.getpid()}"
    try:
        run("debootstrap", "--variant=minbase", suite, str(tree), debian_mirror(suite))
        (tree / "etc/dpkg/dpkg.cfg.d/slim").write_text(SLIM_DPKG_FILTER)
        for sub in ("man", "info", "locale", "groff", "lintian", "linda"):
            shutil.rmtree(tree / "usr/share" / sub, ignore_errors=True)
        for doc in (tree / "usr/share/doc").glob("*/*"):
            if doc.name != "copyright":
                (shutil.rmtree if doc.is_dir() and not doc.is_symlink() else Path.unlink)(doc)
        for cached in [*(tree / "var/cache/apt").rglob("*.deb"),
                       *(tree / "var/cache/apt").glob("*.bin"),
                       *(tree / "var/lib/apt/lists").glob("*_*")]:
            cached.unlink()
        partial = tarball.with_suffix(f".{os.getpid()}.partial")
        run("tar", "--numeric-owner", "-C", str(tree), "-cf", str(partial), ".")
        partial.replace(tarball)
    finally:
        remove_tree(tree)
    return tarball


# ---------------------------------------------------------------------- podman


@dataclass
class Podman:
    """podman with its own storage (vfs: works nested, needs no kernel overlay support)."""

    home: Path

    def __post_init__(self) -> None:
        conf = self.home / "storage.conf"
        conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{self.home / "graph"}"\n'
                        f'runroot = "{self.home / "run"}"\n')
        self.env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf),
                    "TMPDIR": str(self.home)}

    def __call__(self, *argv: str) -> str:
        return run("podman", *argv, env=self.env)


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    if os.geteuid() != 0:
        unavailable("it needs root (podman's chroot isolation, chroot, mounts)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        unavailable(f"missing {', '.join(missing)} (`./dev test` installs podman and "
                    "debootstrap with apt-get when run as root)")
    home = tmp_path / "podman"
    home.mkdir()
    yield Podman(home)
    subprocess.run(["podman", "rm", "--all", "--force"], env=Podman(home).env,
                   capture_output=True, timeout=120)
    remove_tree(home)  # gigabytes under vfs, and the image's filesystem


# ---------------------------------------------------------------------- the image's process


@dataclass
class ImageConfig:
    argv: list[str]
    env: dict[str, str]
    user: str
    workdir: str
    volumes: list[str]
    healthcheck: list[str]


def image_config(podman: Podman, image: str) -> ImageConfig:
    inspected = json.loads(podman("image", "inspect", image))[0]
    config = inspected["Config"]
    health = (inspected.get("Healthcheck") or config.get("Healthcheck") or {}).get("Test") or []
    if health[:1] == ["CMD-SHELL"]:
        health = ["/bin/sh", "-c", health[1]]
    return ImageConfig(
        argv=(config.get("Entrypoint") or []) + (config.get("Cmd") or []),
        env=dict(item.split("=", 1) for item in config.get("Env") or []),
        user=config.get("User") or "root", workdir=config.get("WorkingDir") or "/",
        volumes=sorted(config.get("Volumes") or {}), healthcheck=health[1:])


def resolve_user(root: Path, user: str) -> tuple[int, int, str]:
    """uid, gid and home of USER[:GROUP] by the image's own passwd and group files."""
    name, _, group = user.partition(":")
    passwd = [line.split(":") for line in (root / "etc/passwd").read_text().splitlines()]
    entry = next((e for e in passwd if name in (e[0], e[2])), None)
    uid = int(entry[2]) if entry else int(name)
    gid = int(entry[3]) if entry else uid
    if group:
        groups = [line.split(":") for line in (root / "etc/group").read_text().splitlines()]
        gid = next((int(g[2]) for g in groups if group in (g[0], g[2])), None) or int(group)
    return uid, gid, entry[5] if entry else "/"


# Mounts live in a mount namespace of the server's own: they vanish with it, whatever happens
# to the test, and nothing can be removed through them from outside.
IN_NAMESPACE = """\
root=$1; shift
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
while [ "$1" != -- ]; do mount --bind "$1" "$root$2"; shift 2; done; shift
exec chroot "$@"
"""


def test_image_builds_and_serves(podman: Podman, tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    started = time.monotonic()
    base_image, suite = dockerfile_base()
    podman("import", str(make_base(suite)), base_image)
    timings["base"] = time.monotonic() - started

    started = time.monotonic()
    # --layers=false: no image per step (each a full copy under vfs), only the final one.
    build = ["build", "--isolation=chroot", "--pull=never", "--format=docker", "--layers=false",
             "--tag=switchboard:test"]
    # The build's pip trusts what this machine's pip trusts (a proxy's CA, say).
    bundle = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
    if Path(bundle).is_file():
        build.append(f"--secret=id=ca-certificates,src={bundle}")
    podman(*build, str(REPO))
    timings["build"] = time.monotonic() - started
    size = json.loads(podman("image", "inspect", "switchboard:test"))[0]["Size"]

    started = time.monotonic()
    config = image_config(podman, "switchboard:test")
    assert config.argv[:2] == ["switchboard", "serve"]
    assert config.volumes == ["/data"]
    container = podman("create", "switchboard:test").strip()
    exported = podman.home / "rootfs.tar"
    podman("export", f"--output={exported}", container)
    podman("rm", container)
    root = podman.home / "rootfs"  # removed with podman's storage
    root.mkdir()
    run("tar", "--numeric-owner", "-C", str(root), "-xf", str(exported))
    exported.unlink()
    uid, gid, home = resolve_user(root, config.user)
    assert uid != 0, f"the image runs as root (USER {config.user})"
    binds: list[str] = []
    for volume in config.volumes:  # a fresh volume, owned like the image's directory
        source = tmp_path / "volumes" / volume.strip("/").replace("/", "_")
        source.mkdir(parents=True)
        stat = (root / volume.lstrip("/")).stat()
        os.chown(source, stat.st_uid, stat.st_gid)
        binds += [str(source), volume]
    data = tmp_path / "volumes/data"

    port = free_port()
    env = {"HOSTNAME": "switchboard-test", "HOME": home, **config.env,
           "SWITCHBOARD_HOST": "127.0.0.1", "SWITCHBOARD_PORT": str(port),
           "SWITCHBOARD_ACCOUNT_SID": ACCOUNT_SID, "SWITCHBOARD_AUTH_TOKEN": AUTH_TOKEN}

    def in_image(argv: list[str]) -> list[str]:
        return [f"--userspec={uid}:{gid}", str(root), "/usr/bin/env", "-i",
                f"--chdir={config.workdir}", *(f"{k}={v}" for k, v in env.items()), *argv]

    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            ["unshare", "--mount", "--propagation=private", "--", "/bin/sh", "-ec", IN_NAMESPACE,
             "sh", str(root), *binds, "--", *in_image(config.argv)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=5, trust_env=False) as client:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, f"the server exited:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, f"no /healthz in 60 s:\n{log_path.read_text()}"
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            timings["ready"] = time.monotonic() - started
            status = Path(f"/proc/{server.pid}/status").read_text()
            assert re.search(rf"^Uid:\s+{uid}\s", status, re.MULTILINE), status

            # The image's HEALTHCHECK, run as the runtime would: in the image, as its user.
            assert config.healthcheck, "the image has no HEALTHCHECK"
            check = subprocess.run(["chroot", *in_image(config.healthcheck)],
                                   capture_output=True, text=True, timeout=30)
            assert check.returncode == 0, check.stdout + check.stderr

            auth = (ACCOUNT_SID, AUTH_TOKEN)
            created = client.post("/v1/Workspaces", data={"FriendlyName": "In a container"},
                                  auth=auth)
            assert created.status_code == 201, created.text
            read = client.get(f"/v1/Workspaces/{created.json()['sid']}", auth=auth)
            assert read.status_code == 200, read.text
            assert read.json()["friendly_name"] == "In a container"
            assert client.get("/v1/Workspaces", auth=(ACCOUNT_SID, "wrong")).status_code == 401

        server.send_signal(signal.SIGTERM)  # what `docker stop` sends
        # uvicorn shuts down gracefully, then ends by the signal it caught (as Docker expects).
        assert server.wait(timeout=60) in (0, -signal.SIGTERM), log_path.read_text()
        assert "Application shutdown complete" in log_path.read_text()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        timings["run"] = time.monotonic() - started
        print(f"container image test: image {size / 1e6:.0f} MB; "
              + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    # The data went to the volume, written by the image's user; the log is JSON lines.
    assert any(path.stat().st_uid == uid for path in data.iterdir()), list(data.iterdir())
    lines = [json.loads(line) for line in log_path.read_text().splitlines()
             if line.startswith("{")]
    assert any(line.get("path") == "/v1/Workspaces" and line.get("status") == 201
               for line in lines), log_path.read_text()
    assert not mounts_under(root)
