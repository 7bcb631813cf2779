"""X-Ray groups: a name and a filter expression, kept in the trace store's SQLite file.

The operations (CreateGroup, GetGroup, GetGroups, UpdateGroup, DeleteGroup) and their members
are botocore's xray service model (service-2.json, API version 2016-04-12) and the X-Ray API
reference (docs.aws.amazon.com/xray/latest/api/API_CreateGroup.html and its neighbours):

  * GroupName is 1 to 32 characters and case-sensitive; "Default is a reserved name and names
    must be unique" (CreateGroupRequest.GroupName). Every account has a `Default` group with no
    filter expression: it is every trace. It cannot be deleted or given a filter.
  * A group's ARN is `arn:aws:xray:<region>:<account>:group/<name>/<id>`, as the AWS CLI's
    xray examples show it (awscli/examples/xray/create-group.rst); the id is new on every
    CreateGroup, so a deleted group's ARN never names its successor. The Default group's ARN
    has no id: `.../group/Default` (what GetServiceGraph already accepts).
  * InsightsConfiguration: "Notifications may only be enabled on a group with InsightsEnabled
    set to true" (CreateGroupRequest.InsightsConfiguration).
  * Tags: at most 200 (TagList); a key 1 to 128 characters, a value up to 256 (Tag).

The table is this module's own, created if missing, beside the store's tables in the same
file: a group outlives a restart as the traces do. Filter expressions are checked with the
same parser GetTraceSummaries uses, so a group that is created can always be applied.
"""

import base64
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.xray.backend import LOCAL_ACCOUNT, InvalidRequest
from emulator.xray.filters import FilterError, GroupLookup, compile_filter

DEFAULT_GROUP = "Default"
MAX_NAME_LENGTH = 32  # GroupName in the service model
MAX_ARN_LENGTH = 400  # GroupARN in the service model
MAX_TAGS = 200  # TagList in the service model
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
# X-Ray's service quota is 25 groups per Region and account; a bound also keeps GetGroups to
# one page and the table small whatever a client sends.
MAX_GROUPS = 25
# The name becomes part of the ARN and of `group.name = "..."` filters: a "/" would make the
# ARN ambiguous. The model bounds only the length; letters, digits, "-", "_" and "." are what
# this local X-Ray accepts.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]+")

SCHEMA = """
CREATE TABLE IF NOT EXISTS xray_groups (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    filter_expression TEXT,
    insights_enabled INTEGER NOT NULL DEFAULT 0,
    notifications_enabled INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Group:
    name: str
    arn: str
    filter_expression: str | None
    insights_enabled: bool
    notifications_enabled: bool

    def as_dict(self) -> dict[str, Any]:
        """A `Group` (and a `GroupSummary`: the same members), as the service model has them."""
        result: dict[str, Any] = {"GroupName": self.name, "GroupARN": self.arn}
        if self.filter_expression is not None:
            result["FilterExpression"] = self.filter_expression
        result["InsightsConfiguration"] = {
            "InsightsEnabled": self.insights_enabled,
            "NotificationsEnabled": self.notifications_enabled,
        }
        return result


@dataclass(frozen=True)
class Insights:
    """An InsightsConfiguration as sent: None where the member was left out."""

    insights_enabled: bool | None = None
    notifications_enabled: bool | None = None


class GroupStore:
    """The groups of one local X-Ray; safe to call from the API's request threads."""

    def __init__(
        self,
        path: Path | str,
        region: str = "ap-northeast-1",
        account: str = LOCAL_ACCOUNT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.region = region
        self.account = account
        self._clock = clock
        self._lock = threading.Lock()
        # A connection of its own: the trace store's writer holds its own, and SQLite (WAL)
        # serialises the two; the timeout waits out a trace batch being written.
        self._db = sqlite3.connect(Path(path), check_same_thread=False, isolation_level=None, timeout=10.0)
        with self._lock:
            self._db.executescript(SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO xray_groups (name, arn, created) VALUES (?, ?, ?)",
                (DEFAULT_GROUP, self._arn_prefix() + DEFAULT_GROUP, clock()),
            )

    def _arn_prefix(self) -> str:
        return f"arn:aws:xray:{self.region}:{self.account}:group/"

    # -- the operations ----------------------------------------------------------------------

    def create(
        self,
        name: str,
        filter_expression: str | None = None,
        insights: Insights | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> Group:
        check_name(name)
        if name == DEFAULT_GROUP:
            raise InvalidRequest("GroupName Default is reserved: the Default group always exists")
        if filter_expression is not None:
            check_filter(filter_expression, self.filter_expression)
        enabled, notify = _insights(insights or Insights(), Insights(False, False))
        arn = f"{self._arn_prefix()}{name}/{_group_id()}"
        with self._lock:
            if self._row("name = ?", name) is not None:
                raise InvalidRequest(f"a group named {name!r} already exists")
            (count,) = self._db.execute(
                "SELECT count(*) FROM xray_groups WHERE name != ?", (DEFAULT_GROUP,)
            ).fetchone()
            if count >= MAX_GROUPS:
                raise InvalidRequest(
                    f"there are {count} groups already; X-Ray allows {MAX_GROUPS} per Region"
                )
            self._db.execute(
                "INSERT INTO xray_groups (name, arn, filter_expression, insights_enabled,"
                " notifications_enabled, tags, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, arn, filter_expression, enabled, notify, json.dumps(tags or []), self._clock()),
            )
        return Group(name, arn, filter_expression, enabled, notify)

    def get(self, name: str | None = None, arn: str | None = None) -> Group:
        with self._lock:
            return self._find(name, arn)

    def all(self) -> list[Group]:
        """Every group, Default first, then by name."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM xray_groups ORDER BY name != ?, name", (DEFAULT_GROUP,)
            ).fetchall()
        return [_group(row) for row in rows]

    def update(
        self,
        name: str | None = None,
        arn: str | None = None,
        filter_expression: str | None = None,
        insights: Insights | None = None,
    ) -> Group:
        """Change what was sent; members left out keep their value (UpdateGroupRequest)."""
        if filter_expression is not None:
            # A filter may name other groups (`group.name = "..."`); one naming this group
            # itself is refused by the parser, which sees the group's new expression.
            target = name or arn or ""
            check_filter(
                filter_expression,
                lambda key: filter_expression if key == target else self.filter_expression(key),
            )
        with self._lock:
            group = self._find(name, arn)
            if filter_expression is not None and group.name == DEFAULT_GROUP:
                raise InvalidRequest("the Default group is every trace: it cannot have a filter expression")
            enabled, notify = _insights(
                insights or Insights(), Insights(group.insights_enabled, group.notifications_enabled)
            )
            new_filter = group.filter_expression if filter_expression is None else filter_expression
            self._db.execute(
                "UPDATE xray_groups SET filter_expression = ?, insights_enabled = ?,"
                " notifications_enabled = ? WHERE name = ?",
                (new_filter, enabled, notify, group.name),
            )
        return Group(group.name, group.arn, new_filter, enabled, notify)

    def delete(self, name: str | None = None, arn: str | None = None) -> None:
        with self._lock:
            group = self._find(name, arn)
            if group.name == DEFAULT_GROUP:
                raise InvalidRequest("the Default group cannot be deleted")
            self._db.execute("DELETE FROM xray_groups WHERE name = ?", (group.name,))

    # -- for filters and statistics ----------------------------------------------------------

    def filter_expression(self, name_or_arn: str) -> str | None:
        """The filter expression of the group with this name or ARN; None when there is no such
        group. This is the `groups` callable that filter expressions use for `group.name` and
        `group.arn`. The Default group (and any group created without a filter) is every
        trace: its expression is one every trace matches.
        """
        column = "arn" if name_or_arn.startswith("arn:") else "name"
        with self._lock:
            row = self._row(f"{column} = ?", name_or_arn)
        if row is None:
            return None
        return _group(row).filter_expression or MATCH_ALL

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- inside the lock ---------------------------------------------------------------------

    def _find(self, name: str | None, arn: str | None) -> Group:
        """The group named by GroupName, GroupARN or both (then they must agree)."""
        if name is None and arn is None:
            raise InvalidRequest("GroupName or GroupARN is required")
        if name is not None:
            check_name(name)
        if arn is not None and not 1 <= len(arn) <= MAX_ARN_LENGTH:
            raise InvalidRequest(f"GroupARN must be 1 to {MAX_ARN_LENGTH} characters")
        by_name = self._row("name = ?", name) if name is not None else None
        by_arn = self._row("arn = ?", arn) if arn is not None else None
        if name is not None and by_name is None:
            raise InvalidRequest(f"group {name!r} does not exist")
        if arn is not None and by_arn is None:
            raise InvalidRequest(f"group {arn!r} does not exist")
        if by_name is not None and by_arn is not None and by_name != by_arn:
            raise InvalidRequest(f"GroupName {name!r} and GroupARN {arn!r} name different groups")
        row = by_name if by_name is not None else by_arn
        assert row is not None
        return _group(row)

    def _row(self, where: str, value: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._db.execute(
            f"SELECT {_COLUMNS} FROM xray_groups WHERE {where}", (value,)
        ).fetchone()
        return row


# What the Default group (every trace) stands for in a filter expression: a trace is partial
# or it is not, whatever the other keywords come to mean.
MATCH_ALL = "partial OR !partial"
_COLUMNS = "name, arn, filter_expression, insights_enabled, notifications_enabled"


def check_name(name: str) -> None:
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidRequest(f"GroupName must be 1 to {MAX_NAME_LENGTH} characters, got {len(name)}")
    if NAME_PATTERN.fullmatch(name) is None:
        raise InvalidRequest(
            f"GroupName {name!r} may hold only letters, digits, '-', '_' and '.' in the local X-Ray"
        )


def check_filter(expression: str, groups: GroupLookup | None = None) -> None:
    """Refuse a filter expression GetTraceSummaries could not apply, with the parser's reason;
    `groups` resolves the other groups it may name."""
    try:
        compile_filter(expression, groups)
    except FilterError as error:
        raise InvalidRequest(f"FilterExpression is not valid: {error}") from None


def check_tags(tags: Any) -> list[dict[str, str]]:
    """Tags as CreateGroup takes them: a list of {Key, Value}, bounded as the model bounds them."""
    if not isinstance(tags, list):
        raise InvalidRequest("Tags must be a list of {Key, Value} objects")
    if len(tags) > MAX_TAGS:
        raise InvalidRequest(f"Tags has {len(tags)} items; at most {MAX_TAGS} are allowed")
    checked = []
    for index, tag in enumerate(tags):
        if not isinstance(tag, dict):
            raise InvalidRequest(f"Tags[{index}] must be an object with Key and Value")
        key, value = tag.get("Key"), tag.get("Value")
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_KEY_LENGTH:
            raise InvalidRequest(
                f"Tags[{index}].Key must be a string of 1 to {MAX_TAG_KEY_LENGTH} characters"
            )
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE_LENGTH:
            raise InvalidRequest(
                f"Tags[{index}].Value must be a string of at most {MAX_TAG_VALUE_LENGTH} characters"
            )
        checked.append({"Key": key, "Value": value})
    return checked


def check_insights(value: Any) -> Insights:
    if not isinstance(value, dict):
        raise InvalidRequest("InsightsConfiguration must be an object")
    members = []
    for member in ("InsightsEnabled", "NotificationsEnabled"):
        flag = value.get(member)
        if flag is not None and not isinstance(flag, bool):
            raise InvalidRequest(f"InsightsConfiguration.{member} must be true or false")
        members.append(flag)
    return Insights(members[0], members[1])


def _insights(sent: Insights, current: Insights) -> tuple[bool, bool]:
    enabled = current.insights_enabled if sent.insights_enabled is None else sent.insights_enabled
    notify = (
        current.notifications_enabled if sent.notifications_enabled is None else sent.notifications_enabled
    )
    if notify and not enabled:
        raise InvalidRequest("NotificationsEnabled can be true only when InsightsEnabled is true")
    return bool(enabled), bool(notify)


def _group(row: tuple[Any, ...]) -> Group:
    name, arn, filter_expression, enabled, notify = row
    return Group(name, arn, filter_expression, bool(enabled), bool(notify))


def _group_id() -> str:
    # Upper-case base32, like the ids in AWS's group ARNs; 160 random bits never repeat.
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")
