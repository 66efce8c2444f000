"""The rag level's retrieval settings per scenario: tuned on the scenario's eval items (CLI
and search page), stored as fields of its rag prompt version, and used by comparisons; bad
input (no documents, too few items) and a stopped tune change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db.models import PromptVersion, Scenario
from app.rag.quality import RetrievalQuestion
from app.rag.tuning import MIN_QUESTIONS, split
from tests.scenario_files import create, unique_slug

API = "/api/v1/scenarios"
RETRIEVAL = ("rag_top_k", "rag_candidates", "rag_vector_weight", "rag_keyword_weight")
# Six pages of two sections each: twelve chunk headings to draft queries from.
PAGES = {
    f"{topic}.md": f"# {topic.title()}\n\n## {topic.title()} care\n\nWash the {topic} cold."
    f"\n\n## {topic.title()} repairs\n\nWe mend a torn {topic} for free within a year."
    for topic in ("tent", "stove", "lantern", "kayak", "hammock", "compass")
}


@pytest.fixture(scope="module")
def demo_copy(echo_client):
    """A copy of the demo (documents, eval set), so the demo itself keeps its settings."""
    slug = unique_slug("tune")
    assert echo_client.post(f"{API}/northwind/clone", json={"slug": slug}).status_code == 201
    yield slug
    echo_client.delete(f"{API}/{slug}", params={"confirm": slug})


@pytest.fixture
def pages_only(echo_client):
    """A scenario with documents and no eval set."""
    slug = unique_slug("pages")
    create(echo_client, slug)
    files = [("files", (name, text.encode())) for name, text in PAGES.items()]
    assert echo_client.post(f"{API}/{slug}/documents", files=files).status_code == 201
    yield slug
    echo_client.delete(f"{API}/{slug}", params={"confirm": slug})


def rag_versions(session, slug: str) -> list[PromptVersion]:
    session.expire_all()
    scenario = session.scalar(select(Scenario).where(Scenario.slug == slug))
    return list(
        session.scalars(
            select(PromptVersion)
            .where(PromptVersion.scenario_id == scenario.id, PromptVersion.level == "rag")
            .order_by(PromptVersion.number)
        )
    )


def said(result) -> str:
    """The command's output as one line (the console wraps long lines)."""
    return " ".join(result.output.split())


def fields(client, slug: str) -> dict:
    scenario = client.get(f"{API}/{slug}").json()
    return {name: scenario[name] for name in RETRIEVAL}


def test_tune_on_the_demo_stores_what_it_chose_with_the_held_out_figures(
    cli_run, echo_client, session, demo_copy
):
    before = rag_versions(session, demo_copy)
    result = cli_run(["tune", "rag", "--scenario", demo_copy])
    assert result.exit_code == 0, result.output
    # The demo's 32 items that name a source: 19 to choose on, 13 held out.
    assert "chosen on 19 questions, held out 13 (seed 0)" in said(result)
    assert "drafted" not in said(result)
    after = rag_versions(session, demo_copy)
    assert len(after) == len(before) + 1 and f"version {after[-1].number}" in said(result)
    newest = after[-1]
    assert newest.note.startswith("tuned: hit@3 ")
    assert "on 13 held-out eval items (chosen on 19, seed 0)" in newest.note
    stored = fields(echo_client, demo_copy)
    assert {k: newest.content[k] for k in RETRIEVAL} == stored
    assert stored["rag_top_k"] is not None
    # The next comparison runs with it: its version, its top_k.
    answer = echo_client.post(
        "/api/v1/comparisons",
        json={
            "query": "How long is the tent return window?",
            "scenario": demo_copy,
            "levels": ["rag"],
        },
    ).json()
    rag = answer["results"][0]
    assert rag["prompt_version"] == newest.number
    assert answer["settings"]["top_k"] == stored["rag_top_k"]
    assert 1 <= len(rag["context"]) <= stored["rag_top_k"]
    # Tuned again on the same items: nothing left to change, no new version.
    again = cli_run(["tune", "rag", "--scenario", demo_copy])
    assert again.exit_code == 0 and "unchanged" in said(again)
    assert len(rag_versions(session, demo_copy)) == len(after)


def test_the_split_is_seeded_and_holds_out_items_it_does_not_choose_on():
    questions = [RetrievalQuestion(f"q{n}", f"d{n}.md") for n in range(32)]
    train, test = split(questions, seed=0)
    assert (len(train), len(test)) == (19, 13)
    assert not set(train) & set(test) and set(train) | set(test) == set(questions)
    assert split(questions, seed=0) == (train, test)
    assert split(questions, seed=1) != (train, test)
    smallest = split(questions[:MIN_QUESTIONS], seed=0)
    assert len(smallest[1]) == 2 and len(smallest[0]) == MIN_QUESTIONS - 2


def test_a_dry_run_reports_and_changes_nothing(cli_run, session, demo_copy):
    before = [(v.number, v.sha256) for v in rag_versions(session, demo_copy)]
    result = cli_run(["tune", "rag", "--scenario", demo_copy, "--dry-run", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "seed 3" in said(result)
    assert [(v.number, v.sha256) for v in rag_versions(session, demo_copy)] == before


def test_without_eval_items_it_drafts_queries_from_headings_and_says_so(
    cli_run, echo_client, session, pages_only
):
    result = cli_run(["tune", "rag", "--scenario", pages_only])
    assert result.exit_code == 0, result.output
    assert "drafted 12 queries from chunk headings" in said(result)  # 2 sections a page
    newest = rag_versions(session, pages_only)[-1]  # each heading finds its page: top_k 2
    assert "on 5 held-out drafted queries (chosen on 7, seed 0)" in newest.note


def test_a_scenario_without_documents_is_told_so_and_keeps_its_settings(
    cli_run, echo_client, session
):
    slug = unique_slug("empty")
    create(echo_client, slug)
    before = rag_versions(session, slug)
    result = cli_run(["tune", "rag", "--scenario", slug])
    assert result.exit_code == 1
    assert "has no documents to retrieve from; ingest some first" in said(result)
    assert rag_versions(session, slug) == before
    assert set(fields(echo_client, slug).values()) == {None}


def test_too_few_usable_items_names_what_is_missing(cli_run, echo_client, session):
    slug = unique_slug("few")
    create(echo_client, slug)
    files = [("files", (name, PAGES[name].encode())) for name in ("tent.md",)]
    assert echo_client.post(f"{API}/{slug}/documents", files=files).status_code == 201
    items = (
        '{"kind": "knowledge", "query": "Where?", "expected": {"facts": ["x"]}, '
        '"source": "missing.md"}\n'
    )
    upload = echo_client.post(
        f"{API}/{slug}/eval-sets", files={"file": ("e.jsonl", items.encode())}
    )
    assert upload.status_code == 201, upload.text
    result = cli_run(["tune", "rag", "--scenario", slug])
    assert result.exit_code == 1
    output = said(result)
    assert "has 2 usable chunk headings to draft queries from; tuning needs at least 5" in output
    assert "named but not in the knowledge base: missing.md" in output
    assert set(fields(echo_client, slug).values()) == {None}


def test_a_tune_stopped_before_it_ends_leaves_the_previous_settings(
    cli_run, echo_client, session, pages_only, monkeypatch
):
    from app.rag import tuning

    echo_client.patch(f"{API}/{pages_only}", json={"rag_top_k": 4, "rag_keyword_weight": 2.0})
    before = fields(echo_client, pages_only)
    versions = [v.number for v in rag_versions(session, pages_only)]
    real = tuning.update_scenario

    def stopped(*args, **kwargs):  # the user's Ctrl-C, once the new values are in the session
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(tuning, "update_scenario", stopped)
    result = cli_run(["tune", "rag", "--scenario", pages_only])
    assert result.exit_code != 0
    assert fields(echo_client, pages_only) == before
    assert [v.number for v in rag_versions(session, pages_only)] == versions


def test_the_search_page_tunes_with_a_button(echo_client, session, pages_only):
    page = echo_client.get(f"/scenarios/{pages_only}/search")
    assert page.status_code == 200 and "Tune on the eval items" in page.text
    assert "top_k 3, 40 candidates per side, weights vector 1 : keyword 0.5" in page.text
    fragment = echo_client.post(
        f"/scenarios/{pages_only}/search/tune", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "queries were drafted from chunk headings" in fragment.text
    assert "held-out queries" in fragment.text
    assert ("Stored as" in fragment.text) != ("Unchanged" in fragment.text)


def test_the_search_page_says_why_it_cannot_tune(echo_client):
    slug = unique_slug("bare")
    create(echo_client, slug)
    fragment = echo_client.post(f"/scenarios/{slug}/search/tune", headers={"HX-Request": "true"})
    assert fragment.status_code == 422
    assert "Nothing was changed" in fragment.text and "has no documents" in fragment.text
    assert "Tune on the eval items" in fragment.text  # the section stays, to try again


def test_the_rag_level_retrieves_with_its_versions_settings(echo_client, session, demo_copy):
    def ask(**extra):
        body = {
            "query": "Which jackets use Glacierline?",
            "scenario": demo_copy,
            "levels": ["rag"],
            **extra,
        }
        answer = echo_client.post("/api/v1/comparisons", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    edit = {
        "rag_top_k": 1,
        "rag_candidates": 5,
        "rag_vector_weight": 1.0,
        "rag_keyword_weight": 0.0,
        "note": "vector side only",
    }
    assert echo_client.patch(f"{API}/{demo_copy}", json=edit).status_code == 200
    versions = rag_versions(session, demo_copy)
    latest = ask()["results"][0]
    assert latest["prompt_version"] == versions[-1].number
    (chunk,) = latest["context"]  # top_k 1
    assert chunk["score"] == pytest.approx(1 / (60 + chunk["vector_rank"]), abs=1e-6)
    # Version 1 (the clone's, the fields null) runs with the settings' defaults.
    first = ask(prompt_versions={"rag": 1})
    assert first["settings"]["top_k"] == 3 and first["results"][0]["prompt_version"] == 1
    # A request's own top_k wins over the version's.
    assert ask(top_k=2)["settings"]["top_k"] == 2


@pytest.mark.parametrize(
    "edit",
    [
        {"rag_top_k": 0},
        {"rag_top_k": 21},
        {"rag_candidates": 201},
        {"rag_vector_weight": -1},
        {"rag_keyword_weight": 11},
        {"rag_vector_weight": 0, "rag_keyword_weight": 0},
    ],
)
def test_bad_retrieval_settings_are_refused_naming_the_field(echo_client, demo_copy, edit):
    answer = echo_client.patch(f"{API}/{demo_copy}", json=edit)
    assert answer.status_code == 422
    assert "rag_" in str(answer.json()["detail"])


def test_both_weights_at_zero_across_two_edits_are_refused(echo_client):
    slug = unique_slug("weights")
    create(echo_client, slug, rag_vector_weight=0)
    answer = echo_client.patch(f"{API}/{slug}", json={"rag_keyword_weight": 0})
    assert answer.status_code == 422 and "rag_keyword_weight" in answer.json()["detail"]
    assert fields(echo_client, slug)["rag_keyword_weight"] is None


def test_the_scenario_form_edits_the_retrieval_settings(echo_client):
    slug = unique_slug("form")
    create(echo_client, slug)
    form = echo_client.get(f"/scenarios/{slug}/edit").text
    for name in RETRIEVAL:
        assert f'name="{name}"' in form
    values = {
        "name": "Form",
        "system_prompt": "S",
        "rag_instruction": "I",
        "rag_template": "{sources} {question}",
        "rag_top_k": "2",
        "rag_keyword_weight": "0.75",
        "rag_candidates": "",
        "rag_vector_weight": "",
    }
    saved = echo_client.post(f"/scenarios/{slug}/edit", data=values, follow_redirects=False)
    assert saved.status_code in (200, 303), saved.text
    assert fields(echo_client, slug) == {
        "rag_top_k": 2,
        "rag_candidates": None,
        "rag_vector_weight": None,
        "rag_keyword_weight": 0.75,
    }
    page = echo_client.get(f"/scenarios/{slug}").text
    assert "Chunks in the prompt: 2" in page and "the setting (40)" in page


def test_a_version_from_before_the_retrieval_fields_reads_as_the_defaults(settings):
    from app.compare.service import ComparisonOptions
    from app.rag.search import DEFAULT_FUSION, settings_fusion

    old = {"rag_instruction": "Answer.", "rag_template": "{sources} {question}"}
    version = PromptVersion(level="rag", number=1, content=old)
    assert ComparisonOptions().resolved(settings, None, {"rag": version}).top_k == settings.top_k
    assert settings_fusion(settings, old) == settings_fusion(settings) == DEFAULT_FUSION
    tuned = {**old, "rag_candidates": 12, "rag_keyword_weight": 0.25}
    fusion = settings_fusion(settings, tuned)
    assert (fusion.candidates, fusion.keyword_weight, fusion.vector_weight) == (12, 0.25, 1.0)
