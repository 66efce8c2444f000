"""The `tritune` command line: one module per command group, shared display helpers in
`display`, and an injectable runtime in `context`.

Every command calls the same domain services as the REST API and the web pages; none
imports either front end.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import typer

from app.cli import (
    accounts,
    adapters,
    bundles,
    compare,
    drafts,
    evals,
    finetune,
    knowledge,
    scenarios,
    setup,
    tuning,
)

app = typer.Typer(help="TriTune: few-shot prompt vs RAG vs LoRA fine-tune, side by side.")


@app.callback()
def quiet_libraries() -> None:
    """Our own progress bars only: the libraries' bars and deprecation notes are noise here."""
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is first imported
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*user_runtime_dir.*")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


COMMANDS: dict[str, Callable[..., None]] = {
    "serve": setup.serve,
    "setup": setup.setup,
    "train-demo": setup.train_demo,
    "settings": setup.show_settings,
    "compare": compare.compare,
    "ingest": knowledge.ingest,
    "reembed": knowledge.reembed,
    "eval": evals.run_eval,
    "eval-cancel": evals.cancel_eval,
    "eval-set": evals.upload_eval_set,
    "routing": evals.show_routing,
    "dataset": finetune.dataset,
    "train": finetune.train,
    "dataset-export": adapters.export_dataset,
    "init": bundles.init,
    "generate": drafts.generate,
    "drafts": drafts.list_drafts,
    "draft-accept": drafts.accept,
    "draft-reject": drafts.reject,
}
for name, command in COMMANDS.items():
    app.command(name)(command)
# the bundle commands belong to `tritune scenario` too (import, export)
scenarios.app.command("import")(bundles.import_bundle)
scenarios.app.command("export")(bundles.export_bundle)
app.add_typer(scenarios.app, name="scenario")
app.add_typer(tuning.app, name="tune")
app.add_typer(adapters.app, name="adapter")
app.add_typer(accounts.users, name="user")
app.add_typer(accounts.keys, name="key")

if __name__ == "__main__":
    app()
