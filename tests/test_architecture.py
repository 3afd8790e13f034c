"""The shape of the package (docs/ARCHITECTURE.md) holds: rooms, doors, and what imports what."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import django_mfa_enroll
from django_mfa_enroll import services
from django_mfa_enroll.exceptions import STATUS_OF_ERROR, ServiceError
from django_mfa_enroll.services import errors

PACKAGE_DIR = Path(django_mfa_enroll.__file__).resolve().parent
PACKAGE = "django_mfa_enroll"
ARCHITECTURE = (PACKAGE_DIR.parent / "docs" / "ARCHITECTURE.md").read_text()

#: The four doors: each translates between its callers and the services.
DOORS = {
    "http": {
        "views",
        "serializers",
        "authentication",
        "permissions",
        "throttling",
        "exceptions",
        "schema",
        "urls",
        "token_serializers",
        "parsers",
        "fields",
    },
    "admin": {
        "admin",
        "admin_actions",
        "user_admin",
        "history_admin",
        "forms",
        "apikey_admin",
        "device_admin",
    },
    "django": {"backends", "middleware"},
    "operator": {"management"},
}
#: Below the doors: the services and what they stand on.
BELOW = {"services", "claims", "conf", "models", "signals", "migrations", "ratelimit"}
#: Pure rooms: functions over values; they import nothing of the package.
PURE = {"totp", "backup_codes", "crypto", "qrcodes", "apikeys"}
#: What wires the doors into Django at start-up; it may import any room.
WIRING = {"__init__", "apps", "checks"}
#: The bottom of the house: settings and shared names, importing nothing of the package.
BOTTOM = {"conf", "claims"}

MAX_LINES = 350


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py" if name in modules else False


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, at any depth of its code."""
    base_package = name if _is_package(name, modules) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = base_package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            # ``from x import y`` imports the module x.y when there is one, else x itself.
            targets = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t == PACKAGE or t.startswith(PACKAGE + "."))
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def room_of(module: str) -> str | None:
    """``door:<name>``, ``below``, ``pure``, ``wiring`` or ``bottom``; None if unplaced."""
    top = module.split(".")[1] if "." in module else "__init__"
    if top in BOTTOM:
        return "bottom"
    for door, tops in DOORS.items():
        if top in tops:
            return f"door:{door}"
    for room, tops in (("below", BELOW), ("pure", PURE), ("wiring", WIRING)):
        if top in tops:
            return room
    return None


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks a rule of the house, as ``importer -> imported: rule``."""
    found = []
    for module, imported in sorted(graph.items()):
        room = room_of(module)
        for target in sorted(imported):
            target_room = room_of(target)
            if room is None or target_room is None:
                continue  # reported by the test that every module has a room
            edge = f"{module} -> {target}"
            if room.startswith("door:") and target_room.startswith("door:"):
                if room != target_room:
                    found.append(f"{edge}: a door imports another door")
            elif room in ("below", "bottom", "pure") and target_room in ("wiring",):
                found.append(f"{edge}: below the doors, but imports the wiring")
            elif room in ("below", "bottom", "pure") and target_room.startswith("door:"):
                found.append(f"{edge}: below the doors, but imports a door")
            elif room in ("pure", "bottom"):
                found.append(f"{edge}: a {room} room imports the package")
    return found


def test_every_module_has_a_room():
    assert [name for name in _modules() if room_of(name) is None] == []


def test_no_door_imports_another_and_nothing_below_imports_a_door():
    assert violations(import_graph()) == []


def test_the_graph_sees_relative_absolute_and_nested_imports():
    graph = import_graph()
    assert "django_mfa_enroll.services" in graph["django_mfa_enroll.views.secrets"]
    assert "django_mfa_enroll.views.base" in graph["django_mfa_enroll.views.login"]
    assert "django_mfa_enroll.claims" in graph["django_mfa_enroll.backends"]
    assert "django_mfa_enroll.backends" in graph["django_mfa_enroll.apps"]  # inside ready()
    assert (
        "django_mfa_enroll.management" in graph["django_mfa_enroll.management.commands.mfa_reset"]
    )
    assert "django_mfa_enroll.services.statements" in graph["django_mfa_enroll.services.login"]


@pytest.mark.parametrize(
    ("edge", "rule"),
    [
        # What the layout held before the services package (issue 12): both now refused.
        (("backends", "permissions"), "a door imports another door"),
        (("middleware", "authentication"), "a door imports another door"),
        (("views", "backends"), "a door imports another door"),
        (("services.login", "views"), "below the doors, but imports a door"),
        (("services.operators", "admin"), "below the doors, but imports a door"),
        (("totp", "conf"), "a pure room imports the package"),
        (("claims", "services"), "a bottom room imports the package"),
        (("models", "checks"), "below the doors, but imports the wiring"),
    ],
)
def test_a_broken_rule_is_reported(edge, rule):
    importer, imported = (f"{PACKAGE}.{name}" for name in edge)
    assert violations({importer: {imported}}) == [f"{importer} -> {imported}: {rule}"]


def test_doors_may_import_their_own_rooms_and_anything_below():
    graph = {
        f"{PACKAGE}.views": {f"{PACKAGE}.serializers", f"{PACKAGE}.services", f"{PACKAGE}.claims"},
        f"{PACKAGE}.admin": {f"{PACKAGE}.forms", f"{PACKAGE}.models"},
        f"{PACKAGE}.apps": {f"{PACKAGE}.backends", f"{PACKAGE}.checks"},
    }
    assert violations(graph) == []


def test_no_module_grows_past_the_limit():
    long = {
        name: lines
        for name, path in _modules().items()
        if "migrations" not in name and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_room_is_named_in_the_architecture_page():
    names = {name.rsplit(".", 1)[-1] for name in _modules() if "migrations" not in name}
    names -= {"__init__", "django_mfa_enroll", "commands", "mfa_cleanup", "mfa_reset"}
    names -= {"mfa_rotate_keys", "mfa_status"}  # the commands, named by their folder
    missing = sorted(
        n for n in names if f"`{n}" not in ARCHITECTURE and f"{n}.py" not in ARCHITECTURE
    )
    assert missing == []


def test_the_services_re_export_what_they_declare():
    assert sorted(services.__all__) == sorted(set(services.__all__))
    assert all(hasattr(services, name) for name in services.__all__)


def _error_classes() -> list[type[errors.MFAError]]:
    found, stack = [], [errors.MFAError]
    while stack:
        kind = stack.pop()
        found.append(kind)
        stack.extend(kind.__subclasses__())
    return [kind for kind in found if kind.__module__ == errors.__name__]


@pytest.mark.parametrize("kind", _error_classes()[1:], ids=lambda kind: kind.__name__)
def test_every_service_error_has_an_http_status(kind):
    assert any(base in STATUS_OF_ERROR for base in kind.__mro__)
    error = kind(1) if kind is errors.Locked else kind()
    assert 400 <= ServiceError(error).status_code < 600 and ServiceError(error).status_code != 500
    assert getattr(services, kind.__name__) is kind  # sites catch them as services.X


def test_a_counted_failure_is_declared_on_the_error():
    assert errors.MFAError.failures is None and errors.MFAError.wait == 0
