"""The kinds of trigger: S3 objects, SQL query results, catalogue assets, schedules, and compositions."""

from __future__ import annotations

import datetime as dt
import enum
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


def _mode(enum_cls: type[enum.StrEnum], value: Any) -> Any:
    try:
        return enum_cls(str(getattr(value, "value", value)).lower())
    except ValueError:
        raise ValidationError(f"unknown mode {value!r}; use one of {[m.name for m in enum_cls]}") from None


class S3Trigger(Trigger):
    """Objects under ``prefix`` of ``bucket`` (keys matching the glob ``pattern``, sizes within bounds).

    The bucket is reached through the stored S3 ``connection`` of the trigger's user, or with the
    default credentials at ``endpoint_url`` (default: the deployment's ``FLOWDECK_S3_ENDPOINT_URL``).
    NEW fires once per new key; CHANGED once per new ETag of a known key; EXISTS once when matching
    objects appear where there were none. The first check only records what is there.
    """

    kind = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        mode: S3TriggerMode | str = S3TriggerMode.NEW,
        pattern: str | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        connection: str | None = None,
        endpoint_url: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not isinstance(bucket, str) or not bucket:
            raise ValidationError("S3Trigger needs a bucket name")
        self.bucket, self.prefix, self.mode = bucket, prefix or "", _mode(S3TriggerMode, mode)
        self.pattern, self.min_size, self.max_size = pattern, min_size, max_size
        self.connection, self.endpoint_url = connection, endpoint_url

    def spec(self) -> dict[str, Any]:
        """Bucket, prefix, mode, pattern, size bounds and how to reach the bucket."""
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "mode": self.mode.value,
            "pattern": self.pattern,
            "min_size": self.min_size,
            "max_size": self.max_size,
            "connection": self.connection,
            "endpoint_url": self.endpoint_url,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> S3Trigger:
        """The S3 trigger ``spec`` describes."""
        return cls(**spec)

    def _client(self, ctx: CheckContext) -> Any:
        if self.connection:
            from flowdeck.store.connections import get_boto3_s3_client

            return get_boto3_s3_client(ctx.owner, self.connection)
        from flowdeck.config import get_settings
        from flowdeck.storage.s3 import shared_s3_client

        endpoint = self.endpoint_url or get_settings().s3_endpoint_url
        return shared_s3_client(endpoint, region_name="us-east-1")

    def check(self, state: dict[str, Any], ctx: CheckContext) -> Check:
        """List the objects and compare with what the last check saw."""
        from flowdeck.storage.trigger_sources import list_objects

        objects = [
            (key, etag, size)
            for key, etag, size in list_objects(self._client(ctx), self.bucket, self.prefix, self.pattern)
            if (self.min_size is None or size >= self.min_size) and (self.max_size is None or size <= self.max_size)
        ]
        seen: dict[str, str] = state.get("seen", {})
        first = "seen" not in state
        firings: list[Firing] = []
        if self.mode is S3TriggerMode.EXISTS:
            present = bool(objects)
            if present and not state.get("present", False):
                count = int(state.get("fired", 0)) + 1
                firings.append(Firing(f"s3-exists:{count}", f"{len(objects)} matching object(s) in {self.bucket}"))
                state["fired"] = count
            state["present"] = present
        elif not first:
            for key, etag, _ in objects:
                if self.mode is S3TriggerMode.NEW and key not in seen:
                    firings.append(Firing(f"s3:{key}", f"new object s3://{self.bucket}/{key}"))
                elif self.mode is S3TriggerMode.CHANGED and key in seen and seen[key] != etag:
                    firings.append(Firing(f"s3:{key}@{etag}", f"changed object s3://{self.bucket}/{key}"))
        state["seen"] = {key: etag for key, etag, _ in objects}
        reason = f"{len(objects)} matching object(s)" + (" (first look: recorded)" if first else "")
        return Check(firings, state, reason)


class PostgresTrigger(Trigger):
    """The result of a SQLAlchemy ``Select`` run through a stored ``connection`` or the deployment's database.

    COUNT fires once each time the count (a single number the query returns, else its row count)
    reaches ``threshold`` from below; EXISTS when rows appear; CHANGED when the result changes;
    NEW when rows not seen before appear. Only admins may query the deployment's own database.
    """

    kind = "postgres"

    def __init__(
        self,
        query: sa.Select | str,
        mode: PostgresTriggerMode | str = PostgresTriggerMode.COUNT,
        threshold: int | float = 1,
        connection: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if isinstance(query, sa.Select):
            query = str(query.compile(compile_kwargs={"literal_binds": True}))
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("PostgresTrigger needs a SQLAlchemy Select (or the SQL text it stands for)")
        self.query, self.mode, self.threshold, self.connection = (
            query,
            _mode(PostgresTriggerMode, mode),
            threshold,
            connection,
        )

    def spec(self) -> dict[str, Any]:
        """The query (as SQL), mode, threshold and connection."""
        return {
            "query": self.query,
            "mode": self.mode.value,
            "threshold": self.threshold,
            "connection": self.connection,
        }

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

        rows = query_rows(self._engine(ctx), self.query)
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
    """Catalogue assets the trigger's user may see, by ``label``, ``type`` and ``asset_name``.

    CREATED fires once per new asset version; CHANGED once per new or overwritten version.
    The first check only records what is there.
    """

    kind = "asset"

    def __init__(
        self,
        label: str | None = None,
        type: str | None = None,
        asset_name: str | None = None,
        mode: AssetTriggerMode | str = AssetTriggerMode.CREATED,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if label is None and type is None:
            raise ValidationError("AssetTrigger needs a label= or a type= to watch")
        self.label, self.asset_type, self.asset_name = (
            label,
            None if type is None else str(getattr(type, "value", type)),
            asset_name,
        )
        self.mode = _mode(AssetTriggerMode, mode)

    def spec(self) -> dict[str, Any]:
        """Label, type, name and mode."""
        return {"label": self.label, "type": self.asset_type, "asset_name": self.asset_name, "mode": self.mode.value}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> AssetTrigger:
        """The asset trigger ``spec`` describes."""
        return cls(**spec)

    def check(self, state: dict[str, Any], ctx: CheckContext) -> Check:
        """List the matching versions the user may see and compare with the last check."""
        from flowdeck.store import assets as asset_service

        found = asset_service.get_assets(ctx.owner, label=self.label, type=self.asset_type, name=self.asset_name)
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

    def __init__(self, cron: str, timezone: str = "UTC", **options: Any) -> None:
        options.setdefault("interval_seconds", 60.0)
        super().__init__(**options)
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
        return {"cron": self.cron, "timezone": self.timezone}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> ScheduleTrigger:
        """The schedule ``spec`` describes."""
        return cls(**spec)

    def _next_after(self, moment: dt.datetime) -> dt.datetime:
        from zoneinfo import ZoneInfo

        from croniter import croniter

        local = moment.astimezone(ZoneInfo(self.timezone))
        return croniter(self.cron, local).get_next(dt.datetime).astimezone(dt.UTC)

    def check(self, state: dict[str, Any], ctx: CheckContext) -> Check:
        """Fire for the latest scheduled time that has passed since the last firing."""
        after = dt.datetime.fromisoformat(state["after"]) if "after" in state else ctx.now
        due = self._next_after(after)
        firings: list[Firing] = []
        if due <= ctx.now:
            latest = due
            while (following := self._next_after(latest)) <= ctx.now:
                latest = following
            firings.append(Firing(f"cron:{latest.isoformat()}", f"scheduled for {latest.isoformat()}"))
            after = latest
        state["after"] = after.isoformat()
        next_time = self._next_after(max(after, ctx.now))
        return Check(firings, state, f"next at {next_time.isoformat()}", next_check_at=next_time)


class CompositeTrigger(Trigger):
    """AND / OR of other triggers, each with its own state.

    OR fires when any part fires; AND fires once every part has fired since the composite's last firing.
    """

    kind = "composite"

    def __init__(
        self, triggers: Sequence[Trigger], operator: CompositeOperator | str = CompositeOperator.OR, **options: Any
    ) -> None:
        super().__init__(**options)
        if not triggers or not all(isinstance(t, Trigger) for t in triggers):
            raise ValidationError("CompositeTrigger takes a non-empty list of triggers")
        self.triggers, self.operator = list(triggers), _mode(CompositeOperator, operator)

    def spec(self) -> dict[str, Any]:
        """The operator and each part's kind and spec."""
        return {
            "operator": self.operator.value,
            "triggers": [{"kind": t.kind, "spec": t.spec()} for t in self.triggers],
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> CompositeTrigger:
        """The composite ``spec`` describes."""
        parts = [trigger_from_spec(p["kind"], p["spec"]) for p in spec["triggers"]]
        return cls(parts, spec["operator"])

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
