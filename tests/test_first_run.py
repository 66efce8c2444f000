"""The first run serves first and trains in the background: the server queues the demo
adapter's training as an ordinary job, every page shows its progress, the `finetune` column
says it is training instead of failing, and long work logs plain progress lines when the
output is not a terminal."""

from __future__ import annotations

from sqlalchemy import select

from app.db.models import Scenario, Training
from app.demo import demo_recipe, queue_demo_training
from app.levels import LevelInputs, LevelUnavailable, get_level
from app.scenarios.versions import resolve_versions


def test_nothing_is_queued_while_the_demo_adapter_is_registered(session, settings, demo_adapter):
    assert queue_demo_training(session, settings) is None
    assert demo_recipe(session, settings).name == demo_adapter.name


def test_a_dataset_a_team_adds_to_the_demo_is_no_new_demo_recipe(session, settings, demo_adapter):
    from app.db.models import Dataset, Scenario

    northwind = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    session.add(Dataset(scenario_id=northwind.id, name="ours", sha256="1" * 64))
    session.flush()  # the latest dataset now, but not the demo's
    try:
        assert demo_recipe(session, settings).name == demo_adapter.name
        assert queue_demo_training(session, settings) is None
    finally:
        session.rollback()


def test_a_missing_demo_adapter_is_queued_once_as_an_ordinary_training(session, settings):
    other = settings.model_copy(update={"demo_train_limit": 12})  # another recipe, untrained
    try:
        job = queue_demo_training(session, other)
        assert job is not None and job.status == "queued" and job.activate
        assert job.adapter_name == demo_recipe(session, other).name
        assert job.config["max_examples"] == 12
        assert job.config["base_model"] == settings.base_model
        assert queue_demo_training(session, other) is job  # a restart does not queue twice
    finally:
        session.rollback()  # never committed: no worker saw it


def test_the_finetune_column_says_its_adapter_is_training(echo_runtime, session, running_training):
    slug, training = running_training
    job = session.get(Training, training.id)
    job.activate, job.step, job.total_steps = True, 3, 10
    scenario = session.scalar(select(Scenario).where(Scenario.slug == slug))
    embedder, engine = echo_runtime.models()
    inputs = LevelInputs(
        session=session,
        scenario=scenario,
        query="hi",
        query_embedding=embedder.embed_one("hi"),
        settings=echo_runtime.settings,
        engine=engine,
        top_k=3,
        few_shot_k=0,
        versions=resolve_versions(session, scenario),
    )
    try:
        get_level("finetune").plan(inputs)
    except LevelUnavailable as error:
        message = str(error)
    session.rollback()
    assert f"the adapter {slug}-adapter is training: step 3 of 10 (30%)" in message


def test_every_page_shows_a_running_training_and_goes_quiet_without_one(
    echo_client, running_training
):
    slug, training = running_training
    page = echo_client.get("/")
    assert 'hx-get="/status/trainings"' in page.text
    banner = echo_client.get("/status/trainings").text
    assert f'href="/trainings/{training.id}"' in banner and f"{slug}-adapter" in banner
    assert 'hx-trigger="load delay:3s"' in banner  # polls while it runs


def test_the_banner_is_quiet_without_trainings(echo_client, session):
    from app.finetune.jobs import active_trainings

    if not active_trainings(session):
        assert (
            echo_client.get("/status/trainings").text.strip() == '<div id="training-banner"></div>'
        )


def test_progress_is_plain_lines_when_the_output_is_not_a_terminal(capsys):
    from app.cli.display import progress_bar

    with progress_bar("training LoRA", "steps", waiting_for="loading the base model") as advance:
        for step in range(1, 21):
            advance(step, 20, loss=1.0 / step)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "loading the base model…"
    assert lines[1].startswith("training LoRA: 1/20 steps (5%), loss 1, ")
    assert "about" in lines[1] and "s left" in lines[1]
    assert lines[-1].startswith("training LoRA: 20/20 steps (100%)")
    assert len(lines) == 12  # the start, each tenth and the end
