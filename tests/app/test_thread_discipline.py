"""No page changes its widgets from a foreign thread except through ``run_on_session_thread``.

Panel runs periodic callbacks on its thread pool, and our own threads (code cells, chat turns,
viewer timers, ``BackgroundWork`` reads) run beside it. A widget change made there is
scheduled by Panel from that thread, and under load it now and then never reaches the browser
(see components/background.py). This scan reads components/ and app/pages/ and follows every
function handed to a thread, a timer, an executor, a periodic callback or an engine's
``on_event``/``on_output``/``on_change`` hook (through the methods it calls on ``self`` and the
functions it defines; ``pn.state.onload`` too, which Panel runs on its pool for a page built after
the page loaded): none may set a widget's value, a pane's object, a layout's children or a
parameter, nor schedule work with Panel's own ``pn.state.execute``/``add_next_tick_callback``.
What it hands to ``run_on_session_thread`` runs on the session's thread and is not followed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = [*sorted((ROOT / "components").rglob("*.py")), *sorted((ROOT / "app" / "pages").glob("*.py"))]
HELPER_MODULE = ROOT / "components" / "background.py"

THREAD_HOOK_KEYWORDS = {"target", "on_event", "on_output", "on_change", "on_progress"}
THREAD_HOOK_CALLS = {
    "Thread",
    "Timer",
    "submit",
    "add_done_callback",
    "add_periodic_callback",
    "on_change",
    "add_changed_callback",
    "onload",
}
"""``onload``: Panel runs it on its pool when the page has already loaded (a page built after a tab
switch)."""
SESSION_THREAD_CALLS = {"run_on_session_thread", "on_session_thread"}
LAYOUT_CHANGES = {"append", "extend", "insert", "clear", "send", "stream", "patch", "update"}
PANEL_SCHEDULERS = {"add_next_tick_callback", "execute"}
THREAD_ATTRIBUTES = {"daemon"}
"""Attributes a thread may set on a ``threading`` object of its own (not on screen)."""


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _self_chain(node: ast.AST) -> list[str] | None:
    """``self.a.b`` -> ['a', 'b']; None when the expression does not start at ``self``."""
    names: list[str] = []
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id == "self":
        return list(reversed(names))
    return None


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


class _Module:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent

    def rel(self) -> str:
        return str(self.path.relative_to(ROOT)) if self.path.is_relative_to(ROOT) else self.path.name

    def enclosing(self, node: ast.AST, kinds: tuple[type, ...]) -> ast.AST | None:
        node = self.parents.get(node)
        while node is not None and not isinstance(node, kinds):
            node = self.parents.get(node)
        return node

    def params_of(self, cls: ast.ClassDef) -> set[str]:
        """Names declared ``x = param.Something(...)`` in the class body: setting one notifies watchers."""
        names = set()
        for item in cls.body:
            if (
                isinstance(item, ast.Assign)
                and isinstance(item.value, ast.Call)
                and isinstance(item.value.func, ast.Attribute)
                and isinstance(item.value.func.value, ast.Name)
                and item.value.func.value.id == "param"
            ):
                names.update(t.id for t in item.targets if isinstance(t, ast.Name))
        return names

    def resolve(self, expr: ast.AST, where: ast.AST) -> list[ast.AST]:
        """The function bodies ``expr`` (a hook's argument) stands for: a lambda, a nested or module
        function, a method of the enclosing class, ``partial(f, ...)``."""
        if isinstance(expr, ast.Lambda):
            return [expr]
        if isinstance(expr, ast.Call) and _call_name(expr) == "partial" and expr.args:
            return self.resolve(expr.args[0], where)
        if isinstance(expr, ast.Call) and _call_name(expr) in SESSION_THREAD_CALLS:
            return []  # already goes to the session's thread
        chain = _self_chain(expr) if isinstance(expr, ast.Attribute) else None
        if chain is not None and len(chain) == 1:
            cls = self.enclosing(where, (ast.ClassDef,))
            if cls is not None:
                return [
                    f
                    for f in cls.body
                    if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name == chain[0]
                ]
        if isinstance(expr, ast.Name):
            scope = self.enclosing(where, (ast.FunctionDef, ast.AsyncFunctionDef))
            while True:
                body = scope.body if scope is not None else self.tree.body
                found = [
                    f
                    for f in body
                    if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name == expr.id
                ]
                if found or scope is None:
                    return found
                scope = self.enclosing(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
        return []

    def hooks(self) -> list[tuple[ast.AST, ast.AST]]:
        """(function, call site) for every function this module hands to another thread."""
        found = []
        for call in ast.walk(self.tree):
            if not isinstance(call, ast.Call):
                continue
            handed: list[ast.AST] = [k.value for k in call.keywords if k.arg in THREAD_HOOK_KEYWORDS]
            name = _call_name(call)
            if name in THREAD_HOOK_CALLS and call.args:
                handed.append(call.args[1] if name == "Timer" and len(call.args) > 1 else call.args[0])
            for expr in handed:
                found.extend((function, call) for function in self.resolve(expr, call))
        return found

    def violations(self, function: ast.AST, seen: set[int]) -> list[Finding]:
        """What ``function`` (run on a foreign thread) changes on screen, following its calls on ``self``."""
        if id(function) in seen:
            return []
        seen.add(id(function))
        cls = self.enclosing(function, (ast.ClassDef,))
        params = self.params_of(cls) if cls is not None else set()
        findings: list[Finding] = []
        todo = list(function.body) if isinstance(function.body, list) else [function.body]
        while todo:
            node = todo.pop()
            if isinstance(node, ast.Call) and _call_name(node) in SESSION_THREAD_CALLS:
                continue  # its arguments run on the session's thread
            if isinstance(node, ast.Lambda) and node is not function:
                continue  # a lambda built here runs wherever it is handed (followed at its own hook)
            todo.extend(ast.iter_child_nodes(node))
            findings.extend(self.assignment_findings(node, params))
            if isinstance(node, ast.Call):
                findings.extend(self.call_findings(node, cls, seen))
        return findings

    def assignment_findings(self, node: ast.AST, params: set[str]) -> list[Finding]:
        """Attributes of ``self`` (a widget's, or a parameter) that ``node`` sets."""
        findings: list[Finding] = []
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, (ast.AugAssign, ast.AnnAssign))
            else []
        )
        for target in targets:
            chain = _self_chain(target)
            if (
                chain
                and chain[-1] not in THREAD_ATTRIBUTES
                and (len(chain) > 1 or isinstance(target, ast.Subscript) or chain[0] in params)
            ):
                findings.append(
                    Finding(self.rel(), node.lineno, f"sets self.{'.'.join(chain)} off the session's thread")
                )
        return findings

    def call_findings(self, node: ast.Call, cls: ast.AST | None, seen: set[int]) -> list[Finding]:
        """What the call ``node`` changes on screen; a call of another method of ``self`` is followed."""
        findings: list[Finding] = []
        name = _call_name(node)
        chain = _self_chain(node.func.value) if isinstance(node.func, ast.Attribute) else None
        if name in PANEL_SCHEDULERS and isinstance(node.func, ast.Attribute):
            findings.append(
                Finding(
                    self.rel(),
                    node.lineno,
                    f"schedules with Panel's {name} from a foreign thread; use run_on_session_thread",
                )
            )
        elif name == "setattr" and node.args and _self_chain(node.args[0]) is not None:
            findings.append(Finding(self.rel(), node.lineno, "setattr on self off the session's thread"))
        elif (
            chain is not None
            and name in LAYOUT_CHANGES
            and chain
            and chain[-1] != "_lock"
            and (name != "update" or chain[-1] == "param")
        ):
            findings.append(
                Finding(self.rel(), node.lineno, f"self.{'.'.join(chain)}.{name}() off the session's thread")
            )
        elif chain == [] and cls is not None:  # self.method(): followed
            for method in cls.body:
                if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) and method.name == name:
                    findings.extend(self.violations(method, seen))
        return findings


def scan(paths: list[Path]) -> list[Finding]:
    findings: list[Finding] = []
    for path in paths:
        if path == HELPER_MODULE:
            continue
        module = _Module(path)
        for function, _call in module.hooks():
            findings.extend(module.violations(function, set()))
    return sorted(set(findings), key=lambda f: (f.path, f.line))


def test_no_widget_changes_from_foreign_threads():
    findings = scan(SCANNED)
    assert not findings, (
        "Widgets changed off the session's thread (wrap in run_on_session_thread):\n"
        + "\n".join(map(str, findings))
    )


def test_the_scan_finds_a_foreign_thread_change(tmp_path):
    """The shapes the project used before: a periodic callback and a thread setting widgets directly."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import threading\nimport panel as pn\n"
        "class Watcher:\n"
        "    def __init__(self):\n"
        "        pn.state.add_periodic_callback(self._poll, period=1000)\n"
        "        threading.Thread(target=lambda: self._status.param.update(object='x')).start()\n"
        "    def _poll(self):\n"
        "        self._show()\n"
        "    def _show(self):\n"
        "        self._status.object = 'polled'\n"
        "        self._rows[:] = []\n"
        "        pn.state.execute(self._show, schedule=True)\n"
    )
    found = {(f.line, f.what.split(" off")[0].split(" from")[0]) for f in scan([sample])}
    assert found == {
        (6, "self._status.param.update()"),
        (10, "sets self._status.object"),
        (11, "sets self._rows"),
        (12, "schedules with Panel's execute"),
    }


def test_the_scan_lets_changes_through_the_helper(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import threading\nimport panel as pn\n"
        "from components.background import run_on_session_thread\n"
        "class Cell:\n"
        "    def start(self):\n"
        "        threading.Thread(target=self._execute).start()\n"
        "    def _execute(self):\n"
        "        result = self._runner.run()\n"
        "        self._result = result\n"
        "        run_on_session_thread(self._doc, lambda: self._status.param.update(object=result))\n"
    )
    assert scan([sample]) == []
