"""Catalogue benchmark: ``get_assets(label=..., type=...)`` over 50,000 asset versions.

Run ``python benchmarks/assets.py [--assets N] [--repeats R]``.

On the embedded default (SQLite + local files) in a temporary home, the catalogue is filled with
``N`` versions (default 50,000: lineages of 5 versions each, 20 owners, 10 labels, every asset
type, each lineage with its own name; a tenth of the lineages shared with a group, a twentieth with
a user). The rows are bulk-inserted through the records module
(``flowdeck.storage.records.assets.insert_lineages/insert_versions``) rather than saved one by
one, which would only make the setup slow; each row holds the same small inline JSON object, as a
save of ``{"weights": [...]}`` would.

Then ``StoreInterface.get_assets(label=..., type=...)`` is timed for an ordinary user (their own
assets and those shared with them) and for an admin (everything matching), median of ``R`` runs.
The target is under 50 ms for the user's query.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import flowdeck
from flowdeck import Flow, Step, StepType, StoreInterface
from flowdeck.assets import AssetType
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import assets as asset_records
from flowdeck.storage.schema import shares as share_table

TARGET_MS = 50.0
VERSIONS_PER_LINEAGE = 5
OWNERS = 20
LABELS = 10


class Idle(Step):
    """A step that does nothing: the benchmark only needs a run to hold a StoreInterface."""

    def run(self, flow_metadata):
        pass


def _flow() -> Flow:
    flow = Flow(name="Asset benchmark", description="holds a StoreInterface")
    flow.chain([Idle(title="Idle", type=StepType.RESULTS)])
    return flow


def fill(total: int) -> None:
    """Insert ``total`` asset versions with shares, through the records module."""
    for index in range(OWNERS):
        flowdeck.add_user(f"user-{index:02d}", groups=["team-a"] if index == 0 else ["team-b"])
    flowdeck.add_user("admin", role="admin")
    storage = get_storage()
    stored = storage.values.put({"weights": [0.1, 0.2, 0.3]}).columns()
    types = [t.value for t in AssetType]
    lineages, versions, shares = [], [], []
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lineage_count = total // VERSIONS_PER_LINEAGE
    for number in range(lineage_count):
        lineage_id = uuid.uuid4().hex
        owner = f"user-{number % OWNERS:02d}"
        lineages.append(
            {
                "id": lineage_id,
                "owner": owner,
                "label": f"label-{number // OWNERS % LABELS}",
                "asset_type": types[number // (OWNERS * LABELS) % len(types)],
                "name": f"asset-{number}",
                "created_at": start,
            }
        )
        for version in range(1, VERSIONS_PER_LINEAGE + 1):
            when = start + timedelta(seconds=number * VERSIONS_PER_LINEAGE + version)
            versions.append(
                {
                    "id": uuid.uuid4().hex,
                    "lineage_id": lineage_id,
                    "version": version,
                    "asset_class": "Model",
                    "description": f"version {version}",
                    "metadata_json": json.dumps(
                        {"metadata": {"accuracy": 0.9}, "extra": ["accuracy"], "object": {"format": "value"}}
                    ),
                    "flow_id": None,
                    "step_name": None,
                    "created_by": owner,
                    "time_created": when,
                    "time_updated": when,
                    **stored,
                }
            )
        if number % 10 == 1:
            shares.append(_share(lineage_id, "group", "team-a"))
        if number % 20 == 2:
            shares.append(_share(lineage_id, "user", "user-00"))
    with storage.db.write() as conn:
        asset_records.insert_lineages(conn, lineages)
        asset_records.insert_versions(conn, versions)
        conn.execute(share_table.insert(), shares)


def _share(lineage_id: str, kind: str, principal: str) -> dict[str, str]:
    return {"resource_kind": "asset", "resource_id": lineage_id, "principal_kind": kind, "principal": principal}


def median_ms(call, repeats: int) -> tuple[float, int]:
    """Median wall time of ``call()`` in ms, and the length of what it returned."""
    call()  # warm the page cache and the statement cache
    times, count = [], 0
    for _ in range(repeats):
        began = time.perf_counter()
        count = len(call())
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), count


def main() -> None:
    """Fill a fresh embedded deployment and time the filtered listing."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        flowdeck.configure(home=home, database_url=None, blob_url=None)
        began = time.perf_counter()
        fill(args.assets)
        print(f"inserted {args.assets:,} asset versions in {time.perf_counter() - began:.1f} s (bulk, records module)")
        run = flowdeck.start(_flow(), user="user-00")
        user_store = StoreInterface(run.flow_id, user="user-00")
        admin_store = StoreInterface(run.flow_id, user="admin")
        label, kind = "label-3", AssetType.MODEL
        user_ms, user_rows = median_ms(lambda: user_store.get_assets(label=label, type=kind), args.repeats)
        admin_ms, admin_rows = median_ms(lambda: admin_store.get_assets(label=label, type=kind), args.repeats)
        verdict = "PASS" if user_ms < TARGET_MS else "FAIL"
        print(f"get_assets(label={label!r}, type={kind.name}) over {args.assets:,} versions, median of {args.repeats}:")
        print(
            f"  user-00 (own + shared): {user_rows} rows in {user_ms:.2f} ms  [{verdict}: target < {TARGET_MS:.0f} ms]"
        )
        print(f"  admin (everything):     {admin_rows} rows in {admin_ms:.2f} ms")
        flowdeck.configure()


if __name__ == "__main__":
    main()
