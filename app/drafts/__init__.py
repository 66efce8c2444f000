"""Data from the knowledge base: an engine drafts eval items and training examples from the
scenario's documents; a person accepts or rejects each draft before it is stored.

    writing.py  the drafting prompt and reading a draft out of the engine's answer (pure)
    split.py    the leakage guard: each document feeds eval items or training examples,
                never both
    jobs.py     the drafting job (app/jobs.py lifecycle): chunks through the engine
    review.py   accept (into the eval set or the dataset) or reject
"""
