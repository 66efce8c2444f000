from pathlib import Path

from app.config import Settings


def test_every_setting_has_a_default_and_a_description():
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        assert not field.is_required(), f"{name} has no default"


def test_every_setting_is_documented_with_its_description():
    page = (Path(__file__).resolve().parent.parent / "docs" / "settings.md").read_text()
    for name, field in Settings.model_fields.items():
        variable = "DATABASE_URL" if name == "database_url" else f"TRITUNE_{name.upper()}"
        assert variable in page, f"{variable} missing from docs/settings.md"
        assert field.description in page, f"{variable}'s description differs in the docs"


def test_defaults_point_at_the_packaged_models():
    settings = Settings(_env_file=None)
    assert settings.base_model.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert Path(settings.base_model).is_file()
    assert (Path(settings.embedding_model) / "config.json").is_file()


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("TRITUNE_TOP_K", "5")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/x")
    monkeypatch.setenv(
        "TRITUNE_PRICES", '{"prompt": {"input_usd_per_mtok": 1, "output_usd_per_mtok": 2}}'
    )
    settings = Settings(_env_file=None)
    assert settings.top_k == 5
    assert settings.database_url == "postgresql://u:p@db/x"
    assert settings.price("prompt").output_usd_per_mtok == 2
    assert settings.price("unpriced-level").input_usd_per_mtok == 0


def test_setting_one_price_keeps_the_other_defaults(monkeypatch):
    monkeypatch.setenv(
        "TRITUNE_PRICES", '{"rag": {"input_usd_per_mtok": 9, "output_usd_per_mtok": 9}}'
    )
    settings = Settings(_env_file=None)
    assert settings.price("rag").input_usd_per_mtok == 9
    assert settings.price("finetune").input_usd_per_mtok == 0.30
