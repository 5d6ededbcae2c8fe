"""The layering rules, checked on the source: audit imports no domain app; adapters never query case models; audit's
tasks are leaves (tasks import services, never the reverse); no module imports another's private names."""

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


def _imported_names(path: Path, tree):
    """(module, name) for every import in the file, relative imports resolved against the file's package."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                yield module, alias.name


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                yield node.module, alias.name


def _absolute_imports(path: Path, tree):
    """Every module a file imports, relative imports resolved (``from . import tasks`` in cases/x.py: cases.tasks)."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = list(path.relative_to(ROOT).parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            for alias in node.names:
                yield f"{module}.{alias.name}"


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


# The one place that imports the audit tasks: the app's ready(), registering them with Celery in every process
# (as the worker's autodiscovery does) so that services can queue them by name.
TASK_REGISTRAR = "audit/apps.py"


@pytest.mark.parametrize("path_tree", list(_modules("audit")), ids=lambda pt: str(pt[0].relative_to(ROOT)))
def test_nothing_in_audit_imports_its_tasks(path_tree):
    """``audit.tasks`` imports the services it runs; a service that imported the tasks back would close a circle."""
    path, tree = path_tree
    relative = str(path.relative_to(ROOT))
    if relative in ("audit/tasks.py", TASK_REGISTRAR):
        return
    imported = set(_absolute_imports(path, tree))
    assert not {m for m in imported if m == "audit.tasks" or m.startswith("audit.tasks.")}, (
        f"{relative} imports audit.tasks"
    )


@pytest.mark.parametrize(
    "path_tree",
    [*_modules("agencies"), *_modules("api"), *_modules("audit"), *_modules("frontend"), *_modules("tsunagu")],
    ids=lambda pt: str(pt[0].relative_to(ROOT)),
)
def test_no_module_imports_private_names(path_tree):
    """A name with a leading underscore stays in its module: whatever another module needs gets a public name."""
    path, tree = path_tree
    private = [
        f"{module}.{name}"
        for module, name in _imported_names(path, tree)
        if name and name.startswith("_") and name != "_" and not name.startswith("__")
    ]
    assert not private, f"{path.relative_to(ROOT)} imports {private}"


# Authentication failures (a wrong password, a bad key, an operator's refused admin page) are recorded where they
# happen; every refusal of a signed-in actor goes through audit.refusals.
AUTH_FAILURE_MODULES = {
    "agencies/mfa.py",
    "agencies/signals.py",
    "api/authentication.py",
    "api/problems.py",
    "audit/admin.py",
}


@pytest.mark.parametrize(
    "path_tree",
    [*_modules("agencies"), *_modules("audit"), *_modules("cases")],
    ids=lambda pt: str(pt[0].relative_to(ROOT)),
)
def test_refusals_go_through_the_refusal_helper(path_tree):
    """No service raises Forbidden or records a denial by hand: ``refuse()`` / ``Refusal`` do both, so a refusal
    can neither go unaudited nor be audited twice."""
    path, tree = path_tree
    relative = str(path.relative_to(ROOT))
    if relative == "audit/refusals.py":
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", ""))
            assert name != "Forbidden", f"{relative}:{node.lineno} raises Forbidden: use audit.refusals.refuse"
        if isinstance(node, ast.Call) and relative not in AUTH_FAILURE_MODULES and relative != "audit/services.py":
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            assert name != "audit_denied", f"{relative}:{node.lineno} records a denial by hand: use audit.refusals"


@pytest.mark.parametrize(
    "path_tree",
    [*_modules("cases/services"), *((p, t) for p, t in _modules("cases") if p.name == "outbox.py")],
    ids=lambda pt: str(pt[0].relative_to(ROOT)),
)
def test_services_and_outbox_do_not_import_tasks(path_tree):
    """Tasks import services and the outbox, never the reverse: the outbox reaches the tasks by name."""
    path, tree = path_tree
    bad = [module for module in _absolute_imports(path, tree) if module == "cases.tasks"]
    assert not bad, f"{path} imports cases.tasks"


def _passes_a_time_to_an_actor(tree) -> bool:
    """A call that builds an actor (``Actor(...)``, ``Actor.for_user(...)``, ``replace(actor, ...)``) with ``at=``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(k.arg == "at" for k in node.keywords):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"Actor", "for_user", "system", "replace", "SystemActor"}:
                return True
    return False


@pytest.mark.parametrize(
    "path_tree",
    [*_modules("agencies"), *_modules("api"), *_modules("audit"), *_modules("cases"), *_modules("frontend")],
    ids=lambda pt: str(pt[0].relative_to(ROOT)),
)
def test_only_the_demo_seeder_gives_an_actor_a_time(path_tree):
    """Audit times are the server's clock: ``Actor.at`` exists only to replay the demo's week of use."""
    path, tree = path_tree
    if path.is_relative_to(ROOT / "cases" / "demo"):
        assert _passes_a_time_to_an_actor(tree) == (path.name == "seeder.py")
    else:
        assert not _passes_a_time_to_an_actor(tree), f"{path} passes a time to an actor"
