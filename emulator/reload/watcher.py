"""Watch the functions' sources and the template; rebuild and reload what changed.

watchdog does the watching (inotify on Linux, FSEvents on macOS, polling elsewhere): it is
well kept, already pinned, and a hand-written poll would either lag or burn CPU. One thread
takes the changes: it waits until the files have been quiet for DEBOUNCE_SECONDS (an editor's
save is often a write, a rename and a chmod), then per function: the edited Python files must
compile, `sam build <LogicalId>` must succeed, and only then does Lambda get the new code. A
change to the template rebuilds every function, as their settings may have changed. A change
to a layer's sources rebuilds every function that uses the layer (`sam build <Function>` builds
the function's layers too), each of which then runs with the new /opt.
Builds run one at a time: the SAM CLI's build.toml and caches are not safe to share.
"""

import dataclasses
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from emulator.app.errors import TemplateError
from emulator.app.model import AppSpec, FunctionSpec
from emulator.app.template import load_app
from emulator.app.yaml_reader import TemplateSyntaxError, read_template
from emulator.lambda_.service import LambdaService
from emulator.reload.sam_build import BuildResult, sam_build
from emulator.reload.source_edit import apply_edits, is_source_only
from emulator.reload.source_files import is_source_path, newer_than, syntax_error

DEBOUNCE_SECONDS = 0.1


class StaleBuild(Exception):
    """A function's build is older than its sources and could not be rebuilt."""


@dataclass(frozen=True)
class TemplateSettings:
    """How to read a template as the stack reads it."""

    stack_name: str
    region: str
    parameter_overrides: dict[str, str] = field(default_factory=dict)

    def load(self, template: Path) -> AppSpec:
        return load_app(
            template,
            stack_name=self.stack_name,
            region=self.region,
            parameter_overrides=self.parameter_overrides,
        )


def stale_functions(source_app: AppSpec, built_template: Path) -> dict[str, Path]:
    """Functions whose CodeUri folder, or one of whose layers' folders, has a file newer than
    the build, with that file."""
    built_at = built_template.stat().st_mtime
    stale = {}
    for logical_id, spec in source_app.functions.items():
        for folder in (spec.code_dir, *spec.layers):
            newer = newer_than(folder, built_at)
            if newer is not None:
                stale[logical_id] = newer
                break
    return stale


class CodeWatcher:
    def __init__(
        self,
        service: LambdaService,
        *,
        source_template: Path,
        built_template: Path,
        sam_cli: Path,
        settings: TemplateSettings,
        report: Callable[[str], None],
    ) -> None:
        """`report` gets one line per reload (or refused reload)."""
        self._service = service
        self._template = source_template.resolve()
        self._built_template = built_template.resolve()
        self._sam_cli = sam_cli
        self._settings = settings
        self._report = report
        self._code_dirs: dict[str, Path] = {}  # by logical id: the CodeUri folder in the sources
        self._layer_users: dict[Path, set[str]] = {}  # a layer's source folder: the functions using it
        # Functions sam build builds with its default Python builder: a source edit of theirs is
        # applied to a copy of their build (source_edit.py) rather than built again.
        self._default_python_builds: set[str] = set()
        self._pending: dict[str, set[Path]] = {}  # changed files by logical id ("" for the template)
        self._first_change = 0.0  # monotonic time of the oldest pending change
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._observer = Observer()
        self._thread = threading.Thread(target=self._take_changes, name="code-watcher", daemon=True)
        self._builds = 0
        self._build_dirs: list[Path] = []

    @property
    def watched(self) -> list[Path]:
        return [self._template, *sorted(set(self._code_dirs.values()) | set(self._layer_users))]

    def start(self) -> None:
        """Read the sources' template, rebuild (before anything is served) every function whose
        build is older than its sources, then watch. StaleBuild if such a rebuild fails."""
        try:
            source_app = self._settings.load(self._template)
        except TemplateError as error:
            raise StaleBuild(f"cannot watch {self._template}: {error}") from None
        running = self._service.functions
        self._code_dirs = {
            logical_id: spec.code_dir.resolve()
            for logical_id, spec in source_app.functions.items()
            if logical_id in running
        }
        self._default_python_builds = self._default_python_functions(source_app)
        self._layer_users = {}
        for logical_id, spec in source_app.functions.items():
            for layer_dir in spec.layers if logical_id in running else ():
                self._layer_users.setdefault(layer_dir.resolve(), set()).add(logical_id)
        for logical_id, newer in stale_functions(source_app, self._built_template).items():
            if logical_id not in running:
                continue
            shown = self._shown(newer)
            self._say(f"{logical_id}: {shown} is newer than its build: rebuilding it")
            if not self._reload(logical_id, {newer}, time.monotonic()):
                raise StaleBuild(f"{logical_id}: its build is older than {shown} and did not rebuild")
        handler = _Changes(self._on_change)
        scheduled: set[Path] = set()
        for code_dir in sorted(set(self._code_dirs.values()) | set(self._layer_users)):
            if not any(code_dir.is_relative_to(done) for done in scheduled):
                self._observer.schedule(handler, str(code_dir), recursive=True)
                scheduled.add(code_dir)
        if not any(self._template.parent.is_relative_to(done) for done in scheduled):
            self._observer.schedule(handler, str(self._template.parent), recursive=False)
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._changed.set()
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def remove_build_dirs(self) -> None:
        """The reload builds are for this run only (the next `make run` builds again)."""
        for build_dir in self._build_dirs:
            shutil.rmtree(build_dir, ignore_errors=True)
        self._build_dirs.clear()

    # -- what changed --------------------------------------------------------------------

    def _on_change(self, path: Path) -> None:
        targets: list[str] = []
        if path == self._template:
            targets.append("")
        for logical_id, code_dir in self._code_dirs.items():
            if path.is_relative_to(code_dir) and is_source_path(path.relative_to(code_dir)):
                targets.append(logical_id)
        for layer_dir, users in self._layer_users.items():
            if path.is_relative_to(layer_dir) and is_source_path(path.relative_to(layer_dir)):
                targets.extend(sorted(users))
        if not targets:
            return
        with self._lock:
            if not self._pending:
                self._first_change = time.monotonic()
            for target in targets:
                self._pending.setdefault(target, set()).add(path)
        self._changed.set()

    def _take_changes(self) -> None:
        while not self._stopping.is_set():
            self._changed.wait()
            # Quiet for DEBOUNCE_SECONDS: the save is complete.
            while self._changed.is_set() and not self._stopping.is_set():
                self._changed.clear()
                self._stopping.wait(DEBOUNCE_SECONDS)
            if self._stopping.is_set():
                return
            with self._lock:
                pending, self._pending = self._pending, {}
                first_change = self._first_change
            if "" in pending:
                self._reload_template(first_change)
                continue
            for logical_id, paths in sorted(pending.items()):
                self._reload(logical_id, paths, first_change)

    # -- rebuild and reload --------------------------------------------------------------

    def _reload(self, logical_id: str, paths: set[Path], first_change: float) -> bool:
        error = syntax_error(paths)
        if error is not None:
            self._say(f"{logical_id} not reloaded: {error}; the previous code keeps serving")
            return False
        started = time.monotonic()
        spec = self._apply_source_edit(logical_id, paths)
        how = f"edit applied to its build in {time.monotonic() - started:.2f} s"
        if spec is None:
            result = self._build(logical_id)
            if not result.ok:
                self._say(f"{logical_id} not reloaded: sam build failed: {result.error_line()}")
                return False
            try:
                spec = self._settings.load(result.template).functions[logical_id]
            except (TemplateError, KeyError) as error:
                self._say(f"{logical_id} not reloaded: its build cannot be read: {error}")
                return False
            how = f"sam build {result.seconds:.2f} s"
        retired = self._service.update_function_code(spec)
        # The files as they are now: an editor's scratch file, written and renamed away, is not news.
        changed = ", ".join(sorted(self._shown(path) for path in paths if path.exists())) or "files removed"
        self._say(
            f"{logical_id} reloaded in {time.monotonic() - first_change:.2f} s "
            f"({how}, old workers retired: {retired}; {changed})"
        )
        self._forget_old_builds()
        return True

    def _apply_source_edit(self, logical_id: str, paths: set[Path]) -> FunctionSpec | None:
        """The function's spec running a copy of its build with the edited files, when only its
        own source files changed and sam build would only have copied them; else None."""
        code_dir = self._code_dirs.get(logical_id)
        current = self._service.functions.get(logical_id)
        if (
            code_dir is None
            or current is None
            or logical_id not in self._default_python_builds
            or not is_source_only(code_dir, paths)
            or not current.code_dir.is_dir()
        ):
            return None
        build_dir = self._new_build_dir()
        try:
            apply_edits(current.code_dir, build_dir / current.code_dir.name, code_dir, paths)
        except OSError:
            shutil.rmtree(build_dir, ignore_errors=True)
            return None  # another file system, say: hard links fail, and sam build copies
        return dataclasses.replace(current, code_dir=build_dir / current.code_dir.name)

    def _default_python_functions(self, source_app: AppSpec) -> set[str]:
        """The functions of a Python runtime with a CodeUri folder and no Metadata BuildMethod."""
        try:
            resources = (read_template(self._template) or {}).get("Resources") or {}
        except (TemplateSyntaxError, OSError):
            return set()
        chosen = set()
        for logical_id, spec in source_app.functions.items():
            resource = resources.get(logical_id) or {}
            props = resource.get("Properties") or {}
            if (
                spec.runtime.startswith("python")
                and isinstance(props.get("CodeUri"), str)
                and not (resource.get("Metadata") or {}).get("BuildMethod")
            ):
                chosen.add(logical_id)
        return chosen

    def _reload_template(self, first_change: float) -> None:
        """Every function again, one `sam build <LogicalId>` each: a build of the whole template
        would also prune the SAM CLI's cache and dependency folders to what its build.toml
        lists, which is another build's list when the stack runs a --build-dir of its own."""
        try:
            source_app = self._settings.load(self._template)
        except TemplateError as error:
            self._say(f"template not reloaded: {error}")
            return
        running = self._service.functions
        reloaded = []
        for logical_id in sorted(set(source_app.functions) & set(running)):
            result = self._build(logical_id)
            if not result.ok:
                self._say(f"{logical_id} not reloaded: sam build failed: {result.error_line()}")
                continue
            try:
                spec = self._settings.load(result.template).functions[logical_id]
            except (TemplateError, KeyError) as error:
                self._say(f"{logical_id} not reloaded: its build cannot be read: {error}")
                continue
            self._service.update_function_code(spec)
            reloaded.append(logical_id)
        self._say(
            f"template reloaded in {time.monotonic() - first_change:.2f} s "
            f"(functions reloaded: {', '.join(reloaded) or 'none'})"
        )
        added = sorted(set(source_app.functions) - set(running))
        removed = sorted(set(running) - set(source_app.functions))
        if added or removed:
            # The gateway's routes and the worker pools are made at start.
            self._say(f"functions added {added} or removed {removed}: restart the stack to serve them")
        self._forget_old_builds()

    def _new_build_dir(self) -> Path:
        self._builds += 1
        built = self._built_template.parent
        build_dir = built.with_name(f"{built.name}-reload-{self._builds}")
        self._build_dirs.append(build_dir)
        return build_dir

    def _build(self, logical_id: str | None) -> BuildResult:
        build_dir = self._new_build_dir()
        return sam_build(
            self._sam_cli,
            self._template,
            build_dir,
            logical_id=logical_id,
            parameter_overrides=self._settings.parameter_overrides,
        )

    def _forget_old_builds(self) -> None:
        """Remove reload builds no function runs from any more, but the latest two: workers of
        the previous code may still be finishing a request in theirs."""
        in_use = [spec.code_dir.resolve() for spec in self._service.functions.values()]
        keep = set(self._build_dirs[-2:])
        for build_dir in list(self._build_dirs):
            if build_dir in keep or any(code_dir.is_relative_to(build_dir) for code_dir in in_use):
                continue
            shutil.rmtree(build_dir, ignore_errors=True)
            self._build_dirs.remove(build_dir)

    def _shown(self, path: Path) -> str:
        """A path as the user knows it: relative to the template's folder."""
        try:
            return str(path.relative_to(self._template.parent))
        except ValueError:
            return str(path)

    def _say(self, line: str) -> None:
        self._report(f"{time.strftime('%H:%M:%S')} {line}")


class _Changes(FileSystemEventHandler):
    def __init__(self, on_change: Callable[[Path], None]) -> None:
        self._on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads, not changes
        if event.is_directory and event.event_type in ("modified", "created", "closed"):
            return  # a folder's own times change with its files (a new __pycache__, say)
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                text = raw.decode() if isinstance(raw, bytes) else raw
                self._on_change(Path(text).resolve())
