"""Who may call what: the role each route needs, in one table to review.

Every route that changes something (any method but GET and HEAD) is listed here with its
role; `tests/test_auth_rules.py` fails when a route is missing, so a new route gets a rule
when it is added. A route missing from the table all the same needs an admin (fail closed).
Reading (GET) needs a viewer, except the public routes below and the admin pages listed.
"""

from __future__ import annotations

from app.auth.roles import Role

PUBLIC = None  # no login needed: health checks, the login page, the API's schema
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/login",
        "/logout",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
)

E, A = Role.editor, Role.admin
CHANGES: dict[tuple[str, str], Role] = {
    # scenarios and bundles
    ("POST", "/api/v1/scenarios"): E,
    ("POST", "/api/v1/scenarios/import"): E,
    ("PATCH", "/api/v1/scenarios/{slug}"): E,
    ("POST", "/api/v1/scenarios/{slug}/clone"): E,
    ("DELETE", "/api/v1/scenarios/{slug}"): A,
    ("POST", "/scenarios/import"): E,
    ("POST", "/scenarios/new"): E,
    ("POST", "/scenarios/{slug}/edit"): E,
    ("POST", "/scenarios/{slug}/clone"): E,
    ("POST", "/scenarios/{slug}/delete"): A,
    # comparisons and serving
    ("POST", "/api/v1/comparisons"): E,
    ("POST", "/api/v1/comparisons/stream"): E,
    ("POST", "/compare"): E,
    ("POST", "/comparisons/{comparison_id}/rerun"): E,
    ("POST", "/comparisons/{comparison_id}/levels/{level}/rerun"): E,
    ("POST", "/compare/stream/{token}/cancel"): E,
    ("POST", "/v1/chat/completions"): E,
    # knowledge base
    ("POST", "/api/v1/scenarios/{slug}/documents"): E,
    ("DELETE", "/api/v1/scenarios/{slug}/documents/{document_id}"): A,
    ("POST", "/scenarios/{slug}/documents"): E,
    ("POST", "/scenarios/{slug}/documents/{document_id}/delete"): A,
    ("DELETE", "/scenarios/{slug}/documents/{document_id}"): A,
    ("POST", "/scenarios/{slug}/search/tune"): E,
    # datasets, trainings, adapters
    ("POST", "/api/v1/scenarios/{slug}/datasets"): E,
    ("POST", "/api/v1/scenarios/{slug}/trainings"): E,
    ("POST", "/api/v1/trainings/{training_id}/cancel"): E,
    ("POST", "/api/v1/adapters/{name}/activate"): E,
    ("DELETE", "/api/v1/adapters/{name}"): A,
    ("POST", "/scenarios/{slug}/datasets"): E,
    ("POST", "/scenarios/{slug}/trainings"): E,
    ("POST", "/trainings/{training_id}/cancel"): E,
    ("POST", "/adapters/{name}/activate"): E,
    ("POST", "/adapters/{name}/delete"): A,
    ("POST", "/api/v1/scenarios/{slug}/adapters"): E,
    ("POST", "/scenarios/{slug}/adapters/import"): E,
    ("POST", "/api/v1/scenarios/{slug}/datasets/{dataset_id}/current"): E,
    ("POST", "/scenarios/{slug}/datasets/{dataset_id}/current"): E,
    # evals
    ("POST", "/api/v1/scenarios/{slug}/eval-sets"): E,
    ("POST", "/api/v1/scenarios/{slug}/evals"): E,
    ("POST", "/api/v1/evals/{eval_id}/cancel"): E,
    ("POST", "/scenarios/{slug}/eval-sets"): E,
    ("POST", "/scenarios/{slug}/evals"): E,
    ("POST", "/evals/{eval_id}/cancel"): E,
    ("POST", "/api/v1/scenarios/{slug}/eval-sets/{eval_set_id}/current"): E,
    ("POST", "/scenarios/{slug}/eval-sets/{eval_set_id}/current"): E,
    # drafts from the knowledge base, feedback on served calls
    ("POST", "/api/v1/scenarios/{slug}/drafts"): E,
    ("POST", "/api/v1/draft-runs/{run_id}/cancel"): E,
    ("POST", "/api/v1/drafts/{draft_id}/accept"): E,
    ("POST", "/api/v1/drafts/{draft_id}/reject"): E,
    ("POST", "/scenarios/{slug}/drafts"): E,
    ("POST", "/drafts/{draft_id}/{action}"): E,
    ("POST", "/api/v1/comparisons/{comparison_id}/feedback"): E,
    ("POST", "/comparisons/{comparison_id}/feedback"): E,
    # accounts
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("POST", "/api/v1/keys"): A,
    ("DELETE", "/api/v1/keys/{key_id}"): A,
}
ADMIN_READS = frozenset({"/api/v1/keys"})


def required_role(method: str, path: str) -> Role | None:
    """The role a route (its method and path template) needs; None: public."""
    if method in SAFE_METHODS:
        if path in PUBLIC_PATHS:
            return PUBLIC
        return Role.admin if path in ADMIN_READS else Role.viewer
    return CHANGES.get((method, path), Role.admin)
