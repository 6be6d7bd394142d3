"""The kinds of trigger: S3 objects, SQL query results, catalogue assets, schedules, and compositions."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from flowdeck.errors import AccessError, ValidationError
from flowdeck.triggers.base import Check, CheckContext, Firing, Trigger, digest, trigger_from_spec

__all__ = [
    "AssetTrigger",
    "AssetTriggerMode",
    "CompositeOperator",
    "CompositeTrigger",
    "PostgresTrigger",
    "PostgresTriggerMode",
    "S3Trigger",
    "S3TriggerMode",
    "ScheduleTrigger",
]


class S3TriggerMode(enum.StrEnum):
    """EXISTS: matching objects appeared (after none); CHANGED: an object's content changed; NEW: a new key."""

    EXISTS = "exists"
    CHANGED = "changed"
    NEW = "new"


class PostgresTriggerMode(enum.StrEnum):
    """EXISTS: rows appeared; CHANGED: the result changed; NEW: new rows; COUNT: the count reached a threshold."""

    EXISTS = "exists"
    CHANGED = "changed"
    NEW = "new"
    COUNT = "count"


class AssetTriggerMode(enum.StrEnum):
    """CREATED: a new asset version; CHANGED: an asset version was created or overwritten."""

    CREATED = "created"
    CHANGED = "changed"


class CompositeOperator(enum.StrEnum):
    """AND: every part has fired since the last firing; OR: any part fired."""

    AND = "and"
    OR = "or"


def _one_of(sdk_name: str, sdk_value: Any, own_name: str, own_value: Any) -> Any:
    """The value given under the SDK's name or flowdeck's (the same setting); ValidationError if they differ."""
    if sdk_value is not None and own_value is not None and sdk_value != own_value:
        raise ValidationError(f"{sdk_name}={sdk_value!r} and {own_name}={own_value!r} name the same setting; give one")
    return sdk_value if sdk_value is not None else own_value


def _mode(enum_cls: type[enum.StrEnum], value: Any) -> Any:
    try:
        return enum_cls(str(getattr(value, "value", value)).lower())
    except ValueError:
        raise ValidationError(f"unknown mode {value!r}; use one of {[m.name for m in enum_cls]}") from None


class S3Trigger(Trigger):
    """Objects in ``bucket``: one ``key``, or the keys under ``prefix``, filtered by name, size and type.

    As in the SDK: ``file_pattern`` is a regular expression searched in each object's file name (the
    part of its key after the last ``/``), ``min_size``/``max_size`` bound its size in bytes and
    ``content_type`` its MIME type (``"text/csv"`` also matches ``"text/csv; charset=utf-8"``; looked
    up only for objects that would fire). flowdeck's ``pattern`` is a glob matched against the whole
    key. The bucket is reached through the stored S3 ``connection`` of the trigger's user or, for a
    trigger of an admin only, with the server's own credentials at ``endpoint_url`` (default: the
    deployment's ``FLOWDECK_S3_ENDPOINT_URL``) in ``region_name``: a check of another user's trigger
    without a connection fails with ``AccessError``. NEW fires once per new key; CHANGED once per
    new ETag of a known key; EXISTS once when matching objects appear where there were none. The
    first check only records what is there.
    """

    kind = "s3"

    def __init__(
        self,
        name: str | None = None,
        bucket: str | None = None,
        key: str | None = None,
        prefix: str | None = None,
        mode: S3TriggerMode | str = S3TriggerMode.NEW,
        app_id: str | None = None,
        flow_id: str | None = None,
        user_id: str | None = None,
        callback: Any = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        organization_id: str | None = None,
        trigger_metadata: Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
        max_retries: int = 3,
        step_name: str | None = None,
        dry_run: bool = False,
        min_size: int | None = None,
        max_size: int | None = None,
        file_pattern: str | None = None,
        content_type: str | None = None,
        callback_kwargs: Mapping[str, Any] | None = None,
        pass_store_interface: bool = True,
        *,
        pattern: str | None = None,
        connection: str | None = None,
        interval_seconds: float = 30.0,
    ) -> None:
        """Watch ``key`` (or the keys under ``prefix``) of ``bucket``; see the class docstring."""
        super().__init__(
            name, app_id, flow_id, user_id, callback, organization_id, trigger_metadata, trigger_id,
            max_retries, step_name, dry_run, callback_kwargs, pass_store_interface,
            interval_seconds=interval_seconds,
        )  # fmt: skip
        if not isinstance(bucket, str) or not bucket:
            raise ValidationError("S3Trigger needs a bucket: S3Trigger(name, bucket=..., key=... or prefix=...)")
        if key is not None and prefix:
            raise ValidationError("S3Trigger takes key= (one object) or prefix= (the objects under it), not both")
        if key is not None and (not isinstance(key, str) or not key or len(key) > 1024):
            raise ValidationError(f"key must be an S3 object key of 1 to 1024 characters, got {key!r}")
        for label, size in (("min_size", min_size), ("max_size", max_size)):
            if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                raise ValidationError(f"{label} is a number of bytes ≥ 0, got {size!r}")
        if content_type is not None and (not isinstance(content_type, str) or not _MIME.fullmatch(content_type)):
            raise ValidationError(f"content_type must be a MIME type like 'text/csv', got {content_type!r}")
        if file_pattern is not None:
            compile_file_pattern(file_pattern)
        self.bucket, self.key, self.prefix = bucket, key, prefix or ""
        self.mode = _mode(S3TriggerMode, mode)
        self.pattern, self.file_pattern, self.content_type = pattern, file_pattern, content_type
        self.min_size, self.max_size = min_size, max_size
        self.connection, self.endpoint_url, self.region_name = connection, endpoint_url, region_name

    def spec(self) -> dict[str, Any]:
        """Bucket, key or prefix, mode, filters and how to reach the bucket."""
        spec: dict[str, Any] = {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "mode": self.mode.value,
            "pattern": self.pattern,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "connection": self.connection,
            "endpoint_url": self.endpoint_url,
        }
        # Given only when set, so that the stored form of a trigger that does not use them is unchanged.
        optional = {
            "key": self.key,
            "file_pattern": self.file_pattern,
            "content_type": self.content_type,
            "region_name": self.region_name,
        }
        spec.update({k: v for k, v in optional.items() if v is not None})
        return {**spec, **self._common_spec()}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> S3Trigger:
        """The S3 trigger ``spec`` describes."""
        return cls(**spec)

    def _client(self, ctx: CheckContext) -> Any:
        if self.connection:
            from flowdeck.store.connections import get_boto3_s3_client

            return get_boto3_s3_client(ctx.owner, self.connection)
        if not ctx.owner.is_admin:
            # Without a connection boto3 signs with the server's own AWS credentials.
            raise AccessError(
                f"user {ctx.owner.name!r} may not list bucket {self.bucket!r} with the server's own AWS "
                "credentials; only admins may. Store an s3 connection with an access key and pass it "
                "(S3Trigger(..., connection=NAME))"
            )
        from flowdeck.config import get_settings
        from flowdeck.storage.s3 import shared_s3_client

        endpoint = self.endpoint_url or get_settings().s3_endpoint_url
        return shared_s3_client(endpoint, region_name=self.region_name or "us-east-1")

    def _listed(self, client: Any) -> list[tuple[str, str, int]]:
        from flowdeck.storage.trigger_sources import list_objects

        found = list_objects(client, self.bucket, self.key if self.key is not None else self.prefix, self.pattern)
        matcher = compile_file_pattern(self.file_pattern) if self.file_pattern is not None else None
        kept = []
        for key, etag, size in found:
            if self.key is not None and key != self.key:
                continue
            if self.min_size is not None and size < self.min_size:
                continue
            if self.max_size is not None and size > self.max_size:
                continue
            if matcher is not None and not _search(matcher, key.rsplit("/", 1)[-1]):
                continue
            kept.append((key, etag, size))
        return kept

    def check(self, state: dict[str, Any], ctx: CheckContext) -> Check:
        """List the objects and compare with what the last check saw."""
        client = self._client(ctx)
        objects = self._listed(client)
        typed = _ContentTypes(client, self.bucket, self.content_type)
        seen: dict[str, str] = state.get("seen", {})
        first = "seen" not in state
        firings: list[Firing] = []
        deferred: set[str] = set()
        if self.mode is S3TriggerMode.EXISTS:
            present = typed.any_matches([key for key, _, _ in objects])
            if present and not state.get("present", False):
                count = int(state.get("fired", 0)) + 1
                firings.append(Firing(f"s3-exists:{count}", f"{len(objects)} matching object(s) in {self.bucket}"))
                state["fired"] = count
            if present is not None:
                state["present"] = present
        elif not first:
            for key, etag, _ in objects:
                new = self.mode is S3TriggerMode.NEW and key not in seen
                changed = self.mode is S3TriggerMode.CHANGED and key in seen and seen[key] != etag
                if not (new or changed):
                    continue
                matches = typed.matches(key)
                if matches is None:
                    deferred.add(key)  # not looked at within this check's budget: next check looks again
                elif matches and new:
                    firings.append(Firing(f"s3:{key}", f"new object s3://{self.bucket}/{key}"))
                elif matches:
                    firings.append(Firing(f"s3:{key}@{etag}", f"changed object s3://{self.bucket}/{key}"))
        state["seen"] = {
            key: (seen[key] if key in deferred and key in seen else etag)
            for key, etag, _ in objects
            if key not in deferred or key in seen
        }
        reason = f"{len(objects)} matching object(s)" + (" (first look: recorded)" if first else "")
        return Check(firings, state, reason)


# A MIME type: type "/" subtype, optionally followed by parameters (which are not compared).
_MIME = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}")
# Content types looked up (one HEAD request each) in one check at most; the rest wait for the next.
MAX_CONTENT_TYPE_LOOKUPS = 500
# The longest file_pattern accepted, and how long one search of a file name may take (seconds).
MAX_FILE_PATTERN = 500
FILE_PATTERN_TIMEOUT = 0.05


def compile_file_pattern(pattern: Any) -> Any:
    """``pattern`` (a regular expression) compiled; ValidationError naming the problem otherwise."""
    import regex

    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_FILE_PATTERN:
        raise ValidationError(
            f"file_pattern must be a regular expression of 1 to {MAX_FILE_PATTERN} characters, got {pattern!r}"
        )
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ValidationError(f"file_pattern {pattern!r} is not a valid regular expression: {exc}") from None


def _search(matcher: Any, text: str) -> bool:
    """Whether ``matcher`` finds a match in ``text``, bounded in time (a pattern that backtracks
    without end fails the check with a ValidationError instead of holding the scheduler)."""
    try:
        return matcher.search(text, timeout=FILE_PATTERN_TIMEOUT) is not None
    except TimeoutError:
        raise ValidationError(
            f"file_pattern {matcher.pattern!r} took over {FILE_PATTERN_TIMEOUT} s on the file name {text[:100]!r}; "
            "simplify the pattern"
        ) from None


class _ContentTypes:
    """The MIME types of a check's candidate objects, each looked up once, within a budget."""

    def __init__(self, client: Any, bucket: str, wanted: str | None) -> None:
        self._client, self._bucket = client, bucket
        self._wanted = None if wanted is None else wanted.split(";")[0].strip().lower()
        self._left = MAX_CONTENT_TYPE_LOOKUPS

    def matches(self, key: str) -> bool | None:
        """Whether object ``key`` has the wanted type (True without a filter); None when the budget is spent."""
        if self._wanted is None:
            return True
        if self._left <= 0:
            return None
        from flowdeck.storage.trigger_sources import object_content_type

        self._left -= 1
        found = object_content_type(self._client, self._bucket, key)
        return found is not None and found.split(";")[0].strip().lower() == self._wanted

    def any_matches(self, keys: Sequence[str]) -> bool | None:
        """Whether any of ``keys`` has the wanted type; None when the budget ran out before an answer."""
        for key in keys:
            found = self.matches(key)
            if found is None:
                return None
            if found:
                return True
        return False


class PostgresTrigger(Trigger):
    """The result of a SQLAlchemy ``Select`` run through a stored connection or the deployment's database.

    As in the SDK: ``connection_id`` names the user's stored connection to query (flowdeck's
    ``connection=`` is the same); ``use_store_uri=True``, or neither, queries the deployment's own
    database, which only admins may do. COUNT fires once each time the count (a single number the
    query returns, else its row count) reaches ``count_threshold`` (default 1) from below; EXISTS
    when rows appear; CHANGED when the result changes; NEW when rows not seen before appear. The
    query may take ``query_timeout`` seconds at most (on PostgreSQL, MySQL, MariaDB and SQLite; a
    stored connection's read timeout bounds it on the others) and returns 100,000 rows at most.
    """

    kind = "postgres"

    def __init__(
        self,
        name: str | None = None,
        query: sa.Select | str | None = None,
        mode: PostgresTriggerMode | str = PostgresTriggerMode.COUNT,
        connection_id: str | None = None,
        use_store_uri: bool = False,
        count_threshold: int | float | None = None,
        app_id: str | None = None,
        flow_id: str | None = None,
        user_id: str | None = None,
        callback: Any = None,
        organization_id: str | None = None,
        trigger_metadata: Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
        max_retries: int = 3,
        step_name: str | None = None,
        dry_run: bool = False,
        callback_kwargs: Mapping[str, Any] | None = None,
        pass_store_interface: bool = True,
        query_timeout: int | float = 30,
        *,
        threshold: int | float | None = None,
        connection: str | None = None,
        interval_seconds: float = 30.0,
    ) -> None:
        """Watch the result of ``query``; see the class docstring."""
        super().__init__(
            name, app_id, flow_id, user_id, callback, organization_id, trigger_metadata, trigger_id,
            max_retries, step_name, dry_run, callback_kwargs, pass_store_interface,
            interval_seconds=interval_seconds,
        )  # fmt: skip
        if isinstance(query, sa.Select):
            query = str(query.compile(compile_kwargs={"literal_binds": True}))
        if not isinstance(query, str) or not query.strip():
            raise ValidationError(
                "PostgresTrigger needs a SQLAlchemy Select (or the SQL text it stands for): "
                "PostgresTrigger(name, query, mode=..., ...)"
            )
        connection = _one_of("connection_id", connection_id, "connection", connection)
        if use_store_uri and connection is not None:
            raise ValidationError("use_store_uri=True queries the deployment's database; drop connection_id or it")
        chosen = _one_of("count_threshold", count_threshold, "threshold", threshold)
        chosen = 1 if chosen is None else chosen
        if not isinstance(chosen, int | float) or isinstance(chosen, bool):
            raise ValidationError(f"count_threshold must be a number, got {chosen!r}")
        if (
            not isinstance(query_timeout, int | float)
            or isinstance(query_timeout, bool)
            or not 0 < query_timeout <= 3600
        ):
            raise ValidationError(f"query_timeout is seconds, above 0 and at most 3600; got {query_timeout!r}")
        self.query, self.mode = query, _mode(PostgresTriggerMode, mode)
        self.threshold, self.connection = chosen, connection
        self.use_store_uri, self.query_timeout = bool(use_store_uri), query_timeout

    @property
    def count_threshold(self) -> int | float:
        """The count at which COUNT fires (the SDK's name for ``threshold``)."""
        return self.threshold

    @property
    def connection_id(self) -> str | None:
        """The stored connection queried (the SDK's name for ``connection``), None for the deployment's database."""
        return self.connection

    def spec(self) -> dict[str, Any]:
        """The query (as SQL), mode, threshold, connection and time limit."""
        spec: dict[str, Any] = {
            "query": self.query,
            "mode": self.mode.value,
            "threshold": self.threshold,
            "connection": self.connection,
        }
        if self.use_store_uri:
            spec["use_store_uri"] = True
        if self.query_timeout != 30:
            spec["query_timeout"] = self.query_timeout
        return {**spec, **self._common_spec()}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> PostgresTrigger:
        """The query trigger ``spec`` describes."""
        return cls(**spec)

    def _engine(self, ctx: CheckContext) -> Any:
        if self.connection:
            from flowdeck.store.connections import _sql_engine

            return _sql_engine(ctx.owner, self.connection, None, None)
        if not ctx.owner.is_admin:
            raise AccessError(
                f"user {ctx.owner.name!r} may not query the deployment's own database from a trigger; "
                "only admins may. Use a stored connection (connection=NAME)"
            )
        from flowdeck.storage.deployment import get_storage

        return get_storage().db.engine

    def check(self, state: dict[str, Any], ctx: CheckContext) -> Check:
        """Run the query and compare with what the last check saw."""
        from flowdeck.storage.trigger_sources import query_rows

        rows = query_rows(self._engine(ctx), self.query, timeout=float(self.query_timeout))
        firings: list[Firing] = []
        if self.mode is PostgresTriggerMode.COUNT:
            single = len(rows) == 1 and len(rows[0]) == 1 and isinstance(rows[0][0], int | float)
            count = rows[0][0] if single else len(rows)
            above = count >= self.threshold
            if above and not state.get("above", False):
                crossings = int(state.get("crossings", 0)) + 1
                firings.append(Firing(f"pg-count:{crossings}", f"count {count} reached threshold {self.threshold}"))
                state["crossings"] = crossings
            state["above"] = above
            return Check(firings, state, f"count {count} (threshold {self.threshold})")
        if self.mode is PostgresTriggerMode.EXISTS:
            present = bool(rows)
            if present and not state.get("present", False):
                n = int(state.get("fired", 0)) + 1
                firings.append(Firing(f"pg-exists:{n}", f"{len(rows)} row(s) appeared"))
                state["fired"] = n
            state["present"] = present
            return Check(firings, state, f"{len(rows)} row(s)")
        if self.mode is PostgresTriggerMode.CHANGED:
            now_hash = digest(rows)
            if "hash" in state and state["hash"] != now_hash:
                firings.append(Firing(f"pg-changed:{now_hash}:{state['hash']}", "the query's result changed"))
            state["hash"] = now_hash
            return Check(firings, state, f"{len(rows)} row(s), hash {now_hash}")
        hashes = sorted({digest(row) for row in rows})
        seen = set(state.get("seen", []))
        new = [h for h in hashes if h not in seen]
        if "seen" in state and new:
            firings.append(Firing(f"pg-new:{digest(new)}", f"{len(new)} new row(s)"))
        state["seen"] = hashes
        return Check(firings, state, f"{len(rows)} row(s), {len(new)} new")


class AssetTrigger(Trigger):
    """Catalogue assets the trigger's user may see, by ``asset_id``, ``asset_name``, ``asset_type`` and ``label``.

    As in the SDK, every filter is optional (none: every asset the user may see). ``user_id`` is the
    user the trigger acts for, and only assets that user may see are watched. CREATED fires once per
    new asset version; CHANGED once per new or overwritten version. The first check only records
    what is there. ``query_timeout`` is accepted for the SDK's signature: the catalogue query is
    flowdeck's own, on its indexes. flowdeck's ``type=`` is the same as ``asset_type``.
    """

    kind = "asset"

    def __init__(
        self,
        name: str | None = None,
        mode: AssetTriggerMode | str = AssetTriggerMode.CREATED,
        asset_id: str | None = None,
        asset_name: str | None = None,
        asset_type: str | None = None,
        label: str | None = None,
        user_id: str | None = None,
        app_id: str | None = None,
        flow_id: str | None = None,
        callback: Any = None,
        trigger_metadata: Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
        max_retries: int = 3,
        step_name: str | None = None,
        dry_run: bool = False,
        callback_kwargs: Mapping[str, Any] | None = None,
        pass_store_interface: bool = True,
        query_timeout: int | float = 30,
        *,
        type: str | None = None,
        interval_seconds: float = 30.0,
    ) -> None:
        """Watch the catalogue's matching assets; see the class docstring."""
        super().__init__(
            name, app_id, flow_id, user_id, callback, None, trigger_metadata, trigger_id,
            max_retries, step_name, dry_run, callback_kwargs, pass_store_interface,
            interval_seconds=interval_seconds,
        )  # fmt: skip
        chosen_type = _one_of("asset_type", asset_type, "type", type)
        for label_name, value in (("asset_id", asset_id), ("asset_name", asset_name), ("label", label)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ValidationError(f"{label_name} must be a non-empty string, got {value!r}")
        self.label, self.asset_name, self.asset_id = label, asset_name, asset_id
        self.asset_type = None if chosen_type is None else str(getattr(chosen_type, "value", chosen_type))
        self.mode = _mode(AssetTriggerMode, mode)
        self.query_timeout = query_timeout

    def spec(self) -> dict[str, Any]:
        """Label, type, name, id and mode."""
        spec = {"label": self.label, "type": self.asset_type, "asset_name": self.asset_name, "mode": self.mode.value}
        if self.asset_id is not None:
            spec["asset_id"] = self.asset_id
        return {**spec, **self._common_spec()}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> AssetTrigger:
        """The asset trigger ``spec`` describes."""
        return cls(**spec)

    def check(self, state: dict[str, Any], ctx: CheckContext) -> Check:
        """List the matching versions the user may see and compare with the last check."""
        from flowdeck.store import assets as asset_service

        found = asset_service.get_assets(
            ctx.owner, label=self.label, type=self.asset_type, name=self.asset_name, asset_id=self.asset_id
        )
        current = {a.id: (a.time_updated.isoformat() if a.time_updated else "") for a in found}
        seen: dict[str, str] = state.get("seen", {})
        firings: list[Firing] = []
        if "seen" in state:
            for asset in found:
                stamp = current[asset.id]
                if asset.id not in seen:
                    firings.append(Firing(f"asset:{asset.id}", f"new asset {asset.label!r} version {asset.version}"))
                elif self.mode is AssetTriggerMode.CHANGED and seen[asset.id] != stamp:
                    firings.append(
                        Firing(f"asset:{asset.id}@{stamp}", f"asset {asset.label!r} version {asset.version} changed")
                    )
        state["seen"] = current
        return Check(firings, state, f"{len(found)} matching asset version(s)")


class ScheduleTrigger(Trigger):
    """Fires at the times of a cron expression (``"*/5 * * * *"``) in ``timezone`` (default UTC).

    Missed times (the scheduler was down) fire once on its return, not once per missed time.
    """

    kind = "schedule"

    def __init__(
        self,
        cron: str,
        timezone: str = "UTC",
        name: str | None = None,
        app_id: str | None = None,
        flow_id: str | None = None,
        user_id: str | None = None,
        callback: Any = None,
        organization_id: str | None = None,
        trigger_metadata: Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
        max_retries: int = 3,
        step_name: str | None = None,
        dry_run: bool = False,
        callback_kwargs: Mapping[str, Any] | None = None,
        pass_store_interface: bool = True,
        *,
        interval_seconds: float = 60.0,
    ) -> None:
        """Fire at the times of ``cron`` in ``timezone``; the other options are every trigger's."""
        super().__init__(
            name, app_id, flow_id, user_id, callback, organization_id, trigger_metadata, trigger_id,
            max_retries, step_name, dry_run, callback_kwargs, pass_store_interface,
            interval_seconds=interval_seconds,
        )  # fmt: skip
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from croniter import croniter

        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise ValidationError(f"{cron!r} is not a valid cron expression (e.g. '0 6 * * *': every day at 06:00)")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"unknown time zone {timezone!r}; use an IANA name like 'Europe/Paris'") from exc
        self.cron, self.timezone = cron, timezone

    def spec(self) -> dict[str, Any]:
        """The cron expression and time zone."""
        return {"cron": self.cron, "timezone": self.timezone, **self._common_spec()}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> ScheduleTrigger:
        """The schedule ``spec`` describes."""
        return cls(**spec)

    def _next_after(self, moment: dt.datetime) -> dt.datetime:
        from zoneinfo import ZoneInfo

        from croniter import croniter

        local = moment.astimezone(ZoneInfo(self.timezone))
        return croniter(self.cron, local).get_next(dt.datetime).astimezone(dt.UTC)

    def _latest_until(self, moment: dt.datetime) -> dt.datetime:
        """The last scheduled time at or before ``moment``, found at once (not by stepping through every
        time since: a schedule of every second missed for a month is millions of times)."""
        from zoneinfo import ZoneInfo

        from croniter import croniter

        local = moment.astimezone(ZoneInfo(self.timezone))
        before = croniter(self.cron, local).get_prev(dt.datetime).astimezone(dt.UTC)
        following = self._next_after(before)
        return following if following <= moment else before

    def check(self, state: dict[str, Any], ctx: CheckContext) -> Check:
        """Fire for the latest scheduled time that has passed since the last firing."""
        after = dt.datetime.fromisoformat(state["after"]) if "after" in state else ctx.now
        due = self._next_after(after)
        firings: list[Firing] = []
        if due <= ctx.now:
            latest = max(due, self._latest_until(ctx.now))
            firings.append(Firing(f"cron:{latest.isoformat()}", f"scheduled for {latest.isoformat()}"))
            after = latest
        state["after"] = after.isoformat()
        next_time = self._next_after(max(after, ctx.now))
        return Check(firings, state, f"next at {next_time.isoformat()}", next_check_at=next_time)


class CompositeTrigger(Trigger):
    """AND / OR of other triggers, each with its own state (as in the SDK: ``logic`` defaults to AND).

    OR fires when any part fires; AND fires once every part has fired since the composite's last
    firing. ``poll_frequency`` is how often, in seconds, the parts are checked. flowdeck's
    ``operator=`` is the same as ``logic``.
    """

    kind = "composite"

    def __init__(
        self,
        name: str | None = None,
        triggers: Sequence[Trigger] | None = None,
        logic: CompositeOperator | str = CompositeOperator.AND,
        poll_frequency: int | float = 60,
        app_id: str | None = None,
        flow_id: str | None = None,
        user_id: str | None = None,
        callback: Any = None,
        organization_id: str | None = None,
        trigger_metadata: Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
        max_retries: int = 3,
        step_name: str | None = None,
        dry_run: bool = False,
        callback_kwargs: Mapping[str, Any] | None = None,
        pass_store_interface: bool = True,
        *,
        operator: CompositeOperator | str | None = None,
        interval_seconds: float | None = None,
    ) -> None:
        """Combine ``triggers`` with ``logic``; see the class docstring."""
        if interval_seconds is None:
            interval_seconds = poll_frequency
        super().__init__(
            name, app_id, flow_id, user_id, callback, organization_id, trigger_metadata, trigger_id,
            max_retries, step_name, dry_run, callback_kwargs, pass_store_interface,
            interval_seconds=interval_seconds,
        )  # fmt: skip
        if not triggers or isinstance(triggers, str) or not all(isinstance(t, Trigger) for t in triggers):
            raise ValidationError(
                "CompositeTrigger takes a non-empty list of triggers: "
                "CompositeTrigger(name, triggers=[...], logic='AND')"
            )
        chosen = _mode(CompositeOperator, logic)
        if operator is not None:
            # flowdeck's name for the same setting: it wins over the default logic, not over a given one.
            if chosen is not CompositeOperator.AND and chosen is not _mode(CompositeOperator, operator):
                raise ValidationError(f"logic={logic!r} and operator={operator!r} disagree; give one of them")
            chosen = _mode(CompositeOperator, operator)
        self.triggers, self.operator = list(triggers), chosen

    @property
    def logic(self) -> str:
        """``"AND"`` or ``"OR"``."""
        return self.operator.name

    def spec(self) -> dict[str, Any]:
        """The operator and each part's kind and spec."""
        return {
            "operator": self.operator.value,
            "triggers": [{"kind": t.kind, "spec": t.spec()} for t in self.triggers],
            **self._common_spec(),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> CompositeTrigger:
        """The composite ``spec`` describes."""
        parts = [trigger_from_spec(p["kind"], p["spec"]) for p in spec["triggers"]]
        return cls(triggers=parts, operator=spec["operator"], trigger_metadata=spec.get("trigger_metadata"))

    def check(self, state: dict[str, Any], ctx: CheckContext) -> Check:
        """Check every part; combine their firings."""
        parts_state: list[dict[str, Any]] = state.get("parts") or [{} for _ in self.triggers]
        pending: list[list[str]] = state.get("pending") or [[] for _ in self.triggers]
        reasons, next_times = [], []
        fired_now: list[list[Firing]] = []
        for i, part in enumerate(self.triggers):
            result = part.check(dict(parts_state[i]), ctx)
            parts_state[i] = result.state
            fired_now.append(result.firings)
            reasons.append(f"{part.kind}: {result.reason}")
            if result.next_check_at is not None:
                next_times.append(result.next_check_at)
            pending[i] = pending[i] + [f.key for f in result.firings]
        firings: list[Firing] = []
        if self.operator is CompositeOperator.OR:
            keys = [f.key for part in fired_now for f in part]
            if keys:
                firings.append(Firing(f"or:{digest(keys)}", "; ".join(f.reason for part in fired_now for f in part)))
            pending = [[] for _ in self.triggers]
        elif all(pending):
            firings.append(Firing(f"and:{digest(pending)}", "every part fired"))
            pending = [[] for _ in self.triggers]
        state = {"parts": parts_state, "pending": pending}
        return Check(firings, state, "; ".join(reasons), next_check_at=min(next_times) if next_times else None)
