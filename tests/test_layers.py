"""The front ends are siblings: `app/api` (JSON), `app/web` (HTML) and `app/cli` each call the
domain modules and none imports another; no domain module imports a front end. Read from
the source, so that a new import across the seam fails here, not in a later refactoring."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
FRONT_ENDS = ("app.api", "app.web", "app.cli")
# create_app() assembles the routers; errors.py renders the web's error page for browsers.
ASSEMBLY = {"app.main": FRONT_ENDS, "app.errors": ("app.web",)}


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def layer(module: str) -> str | None:
    return next((f for f in FRONT_ENDS if module == f or module.startswith(f + ".")), None)


MODULES = sorted(APP.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_imports_a_front_end_it_does_not_belong_to(path):
    module = module_name(path)
    own = layer(module)
    allowed = {own} | set(ASSEMBLY.get(module, ()))
    crossing = sorted(name for name in imported(path) if layer(name) not in (None, *allowed))
    assert not crossing, f"{module} imports {crossing}"


def test_the_check_sees_a_crossing(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from app.api.schemas import ScenarioPublic\nimport app.web.render\n")
    assert {layer(name) for name in imported(probe)} >= {"app.api", "app.web"}
