"""Every third-party package the application uses is declared in pyproject.toml, and everything declared is used.

The application's modules (not the tests, whose tools are in requirements-dev.in) are read with ``ast``: every
``import`` outside an ``if TYPE_CHECKING:`` block, plus the dotted paths the settings name as strings (middleware,
installed apps, storage and cache backends), which Django imports by name. Each top-level module is mapped to the
distribution that installs it (``importlib.metadata.packages_distributions``). A distribution used but not declared
would install in development (the dev lock pulls it in some other way) and be missing in production; one declared
but used nowhere is dead weight in the lock and in every security review of it, unless it is listed in
``USED_WITHOUT_IMPORT`` with the reason.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from django.conf import settings
from packaging.requirements import Requirement

ROOT = Path(settings.BASE_DIR)
APP_PACKAGES = ("agencies", "api", "audit", "cases", "frontend", "tsunagu")
SETTINGS_FILE = ROOT / "tsunagu" / "settings.py"

# Declared runtime dependencies the application does not import itself, and why they are needed.
USED_WITHOUT_IMPORT = {
    "gunicorn": "the production WSGI server: run as a program (`gunicorn tsunagu.wsgi`), imported by nothing",
    "psycopg": "PostgreSQL driver of Django's postgresql backend, which DATABASE_URL=postgres://… selects",
}

DOTTED = re.compile(r"^[A-Za-z_]\w*(\.\w+)+$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """The distributions of pyproject.toml's [project.dependencies] (extras and versions left off)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {normalise(Requirement(spec).name) for spec in project["dependencies"]}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, found: set[str]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for branch in child.orelse:  # `else:` of a TYPE_CHECKING block runs
                _imports(branch, found)
            continue
        if isinstance(child, ast.Import):
            found.update(alias.name.split(".")[0] for alias in child.names)
        elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
            found.add(child.module.split(".")[0])
        _imports(child, found)


def _named_in_settings(tree: ast.Module) -> set[str]:
    """Modules the settings name for Django to import: dotted paths, and the entries of INSTALLED_APPS."""
    named = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED.match(node.value)
    }
    for node in ast.walk(tree):
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(target, ast.Name) and target.id == "INSTALLED_APPS" for target in targets):
            assert isinstance(node.value, ast.List | ast.Tuple)
            named.update(item.value for item in node.value.elts if isinstance(item, ast.Constant))
    return {name.split(".")[0] for name in named}


def imported_modules() -> dict[str, set[str]]:
    """Top-level module → the application files that use it (third-party and first-party; not the standard library)."""
    uses: dict[str, set[str]] = {}
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            found: set[str] = set()
            _imports(tree, found)
            if path == SETTINGS_FILE:
                found.update(_named_in_settings(tree))
            for module in found - set(sys.stdlib_module_names) - {"__future__"}:
                uses.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return uses


def used_distributions(uses: dict[str, set[str]]) -> tuple[dict[str, set[str]], set[str]]:
    """(distribution → files importing it, modules no installed distribution provides)."""
    provided = packages_distributions()
    used: dict[str, set[str]] = {}
    unknown = set()
    for module, files in uses.items():
        if module in APP_PACKAGES:
            continue
        if module not in provided:
            unknown.add(module)
            continue
        for distribution in provided[module]:
            used.setdefault(normalise(distribution), set()).update(files)
    return used, unknown


def undeclared(used: dict[str, set[str]], declared_names: set[str]) -> dict[str, list[str]]:
    return {name: sorted(files) for name, files in used.items() if name not in declared_names}


def unused(used: dict[str, set[str]], declared_names: set[str], reasons: dict[str, str]) -> set[str]:
    return {name for name in declared_names if name not in used and name not in reasons}


def test_every_imported_package_is_declared_in_pyproject():
    used, unknown = used_distributions(imported_modules())
    assert not unknown, f"imported, but no installed distribution provides it (a typo, or not installed): {unknown}"
    missing = undeclared(used, declared())
    assert not missing, f"used by the application but missing from pyproject.toml [project.dependencies]: {missing}"


def test_every_declared_package_is_used():
    used, _ = used_distributions(imported_modules())
    dead = unused(used, declared(), USED_WITHOUT_IMPORT)
    assert not dead, (
        f"declared in pyproject.toml but imported nowhere (remove it, or say why in USED_WITHOUT_IMPORT): {dead}"
    )


def test_the_reasons_stay_true():
    """A reason for a package that is no longer declared, or that is imported after all, is stale."""
    used, _ = used_distributions(imported_modules())
    names = {normalise(name) for name in USED_WITHOUT_IMPORT}
    assert names <= declared()
    assert not names & set(used)


def test_the_checks_catch_a_missing_and_an_unused_declaration():
    used, _ = used_distributions(imported_modules())
    # The settings and the views use django-otp: without its declaration it is reported, with the files.
    assert "django-otp" in undeclared(used, declared() - {"django-otp"})
    assert any(path.startswith("frontend/") for path in undeclared(used, declared() - {"django-otp"})["django-otp"])
    # A declared package imported nowhere (what django-filter was) is reported.
    assert unused(used, declared() | {"django-filter"}, USED_WITHOUT_IMPORT) == {"django-filter"}
    # Names are compared normalised: pillow_heif (its metadata's spelling) is pyproject's pillow-heif.
    assert "pillow-heif" in used and "pillow-heif" in declared()
    # What the settings name counts: whitenoise is only ever named as middleware, the sidecar as an installed app.
    assert {"whitenoise", "drf-spectacular-sidecar"} <= set(used)
