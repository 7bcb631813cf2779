"""The machine's process table from /proc, for tests that prove no process is left behind."""

from pathlib import Path


def _stat_fields(pid_dir: Path) -> list[str] | None:
    try:
        stat = (pid_dir / "stat").read_text()
    except OSError:
        return None  # the process ended while we looked
    # The command name (field 2) may hold spaces; the fields after its ")" are fixed:
    # state, then the parent pid.
    return stat[stat.rindex(")") + 2 :].split()


def parents(*, include_zombies: bool) -> dict[int, int]:
    """pid -> parent pid for every process (a zombie keeps its /proc entry until reaped)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry)
        if fields is not None and (include_zombies or fields[0] != "Z"):
            found[int(entry.name)] = int(fields[1])
    return found


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    fields = _stat_fields(Path(f"/proc/{pid}"))
    return fields is not None and fields[0] != "Z"
