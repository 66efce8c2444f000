"""`tritune init`, `tritune scenario import` and `tritune scenario export` in-process on the
test database."""

from __future__ import annotations

import tarfile

import yaml

from app.scenarios.versions import versioned_levels
from tests.scenario_files import broken_bundle, unique_slug


def test_init_then_import_then_export_as_a_directory_and_an_archive(cli_run, tmp_path):
    initialised = cli_run(["init", str(tmp_path / "mine")])
    assert initialised.exit_code == 0, initialised.output
    assert (tmp_path / "mine" / "scenario.yaml").is_file()

    slug = unique_slug("cli-bundle")
    imported = cli_run(["scenario", "import", str(tmp_path / "mine"), "--slug", slug])
    assert imported.exit_code == 0, imported.output
    assert f"imported scenario {slug}" in imported.output
    assert "1 documents" in imported.output and "6 examples" in imported.output
    assert "3 eval items" in imported.output

    exported = cli_run(["scenario", "export", slug, str(tmp_path / "out")])
    assert exported.exit_code == 0, exported.output
    manifest = yaml.safe_load((tmp_path / "out" / "scenario.yaml").read_text())
    assert manifest["slug"] == slug and manifest["prompt"]["few_shot_k"] == 2
    assert [v["note"] for v in manifest["versions"]] == ["created from the template"] * len(
        versioned_levels()
    )

    archive = tmp_path / "nested" / f"{slug}.tar.gz"
    exported = cli_run(["scenario", "export", slug, str(archive)])
    assert exported.exit_code == 0, exported.output
    with tarfile.open(archive) as tar:
        assert f"{slug}/documents/README.md" in tar.getnames()
    again = cli_run(["scenario", "import", str(archive), "--slug", unique_slug("cli-copy")])
    assert again.exit_code == 0, again.output


def test_import_lists_each_problem_and_stores_nothing(cli_run, tmp_path):
    slug = unique_slug("cli-broken")
    result = cli_run(["scenario", "import", str(broken_bundle(tmp_path / "b")), "--slug", slug])
    assert result.exit_code == 1
    assert "train.jsonl:2: not JSON" in result.output
    assert "evalset.jsonl:2" in result.output and "nothing was stored" in result.output
    assert cli_run(["scenario", "show", slug]).exit_code == 1  # not found


def test_a_taken_slug_a_bad_slug_and_a_used_directory_are_refused(cli_run, tmp_path):
    cli_run(["init", str(tmp_path / "t")])
    taken = cli_run(["scenario", "import", str(tmp_path / "t"), "--slug", "northwind"])
    assert taken.exit_code == 1 and "exists already" in taken.output
    bad = cli_run(["scenario", "import", str(tmp_path / "t"), "--slug", "Not A Slug"])
    assert bad.exit_code == 1 and "slug" in bad.output
    assert cli_run(["init", str(tmp_path / "t")]).exit_code == 1
    used = cli_run(["scenario", "export", "northwind", str(tmp_path / "t")])
    assert used.exit_code == 1 and "not an empty directory" in used.output
