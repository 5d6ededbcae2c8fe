"""The layering rules, checked on the source: audit imports no domain app; adapters never query case models."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_APPS = {"agencies", "cases", "api", "frontend"}
CASE_MODELS = {"Client", "Share", "TimelineEntry", "Notification", "BreakGlassGrant", "OutboxMessage"}


def _modules(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield node.module, alias.name


@pytest.mark.parametrize("path_tree", list(_modules("audit")), ids=lambda pt: str(pt[0].relative_to(ROOT)))
def test_audit_imports_no_domain_app(path_tree):
    path, tree = path_tree
    bad = [module for module, _ in _imports(tree) if module.split(".")[0] in DOMAIN_APPS]
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize(
    "path_tree",
    [*_modules("api"), *_modules("frontend")],
    ids=lambda pt: str(pt[0].relative_to(ROOT)),
)
def test_adapters_do_not_touch_case_models(path_tree):
    """Views may use the enums in cases.models, never the models themselves (reads and writes go through the
    audited selectors and services)."""
    path, tree = path_tree
    imported = {name for module, name in _imports(tree) if module == "cases.models"}
    assert not imported & CASE_MODELS, f"{path} imports {imported & CASE_MODELS} from cases.models"
    source = path.read_text(encoding="utf-8")
    for model in CASE_MODELS:
        assert f"{model}.objects" not in source, f"{path} queries {model}"
