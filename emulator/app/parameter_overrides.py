"""Template parameter values given as the SAM CLI takes them, so the local stack runs what
`sam deploy` would deploy: `--parameter-overrides` and samconfig.toml's `parameter_overrides`.

Both spellings of the SAM CLI are read: `Name=Value` and `ParameterKey=Name,ParameterValue=Value`,
several separated by spaces (quote a value that has spaces).
"""

import re
import shlex
import tomllib
from collections.abc import Iterable
from pathlib import Path

from emulator.app.errors import TemplateError

_LONG_FORM = re.compile(r"ParameterKey=(?P<name>[^,]+),ParameterValue=(?P<value>.*)")
# sam deploy reads its own section and the global one, the command's own winning.
SAMCONFIG_SECTIONS = (("default", "global", "parameters"), ("default", "deploy", "parameters"))


def parse_overrides(texts: Iterable[str]) -> dict[str, str]:
    """`["Instrumentation=opentelemetry", ...]` (each item may hold several) to {name: value}."""
    overrides: dict[str, str] = {}
    for text in texts:
        for item in shlex.split(text):
            long_form = _LONG_FORM.fullmatch(item)
            if long_form:
                name, value = long_form["name"], long_form["value"]
            elif "=" in item:
                name, value = item.split("=", 1)
            else:
                raise TemplateError(f"parameter override {item!r}: write it as Name=Value")
            overrides[name] = value
    return overrides


def samconfig_overrides(samconfig: Path) -> dict[str, str]:
    """The `parameter_overrides` that `sam deploy` would read from `samconfig` (none if no file)."""
    if not samconfig.is_file():
        return {}
    try:
        config = tomllib.loads(samconfig.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TemplateError(f"{samconfig}: cannot read it: {error}") from None
    overrides: dict[str, str] = {}
    for section in SAMCONFIG_SECTIONS:
        table: object = config
        for key in section:
            table = table.get(key, {}) if isinstance(table, dict) else {}
        value = table.get("parameter_overrides") if isinstance(table, dict) else None
        if value is not None:
            overrides |= parse_overrides([value] if isinstance(value, str) else [str(item) for item in value])
    return overrides
