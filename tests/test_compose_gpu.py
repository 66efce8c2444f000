"""The compose file's `gpu` profile: vLLM with LoRA behind the `openai` engine (checked by the
docker-compose client; no engine or GPU needed)."""

import subprocess

import pytest
import yaml

from tests.test_compose import ROOT, compose_command


def compose_config(*profile: str) -> dict:
    result = subprocess.run(
        [*compose_command(), "-f", "docker-compose.yml", *profile, "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def short_form(entry: str | dict) -> str:
    """A volume or port as `source:target[:ro]` (v1 clients print strings, v2 mappings)."""
    if isinstance(entry, str):
        return entry
    if "published" in entry:
        return f"{entry.get('host_ip', '')}:{entry['published']}:{entry['target']}"
    return f"{entry['source']}:{entry['target']}" + (":ro" if entry.get("read_only") else "")


@pytest.mark.skipif(compose_command() is None, reason="no docker-compose client installed")
def test_the_gpu_profile_serves_adapters_through_vllm():
    services = compose_config("--profile", "gpu")["services"]
    vllm, app = services["vllm"], services["app-gpu"]
    assert vllm["profiles"] == ["gpu"] and app["profiles"] == ["gpu"]
    assert vllm["image"].startswith("vllm/vllm-openai")
    assert "--enable-lora" in vllm["command"]
    assert vllm["environment"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    assert "appdata:/data:ro" in map(short_form, vllm["volumes"])
    gpu = vllm["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"] and gpu["driver"] == "nvidia"
    env = app["environment"]
    assert env["TRITUNE_ENGINE"] == "openai" and env["TRITUNE_OPENAI_MODEL"] == "base"
    assert env["TRITUNE_OPENAI_BASE_URL"] == "http://vllm:8000/v1"
    assert env["TRITUNE_OPENAI_PUSH_ADAPTERS"] == "true"
    assert env["TRITUNE_OPENAI_ADAPTER_ROOT"] == env["TRITUNE_DATA_DIR"] + "/adapters"
    assert app["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert short_form(app["ports"][0]).startswith("127.0.0.1:8001:8000")
