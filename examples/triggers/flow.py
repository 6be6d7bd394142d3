"""Customer scores and a report that runs by itself whenever new scores are saved.

Two flows, both at module level so that any process (the CLI, a scheduler, the server) can load
them by reference:

- ``score_customers`` ("Score customers"): upload a customer CSV, score every customer, save the
  scores as a dataset asset labelled "customer scores".
- ``scores_report`` ("Scores report"): a SingletonApp with an ``AssetTrigger`` on that label. Its
  one step reads the newest "customer scores" asset and shows a summary.

Run it on the embedded default, from the repository's root (examples/triggers/README.md)::

    flowdeck flows add examples/triggers/flow.py:score_customers examples/triggers/flow.py:scores_report --user alice
    flowdeck triggers check
    flowdeck run --headless "Score customers" --user alice --params examples/triggers/params.json
    flowdeck triggers check
    flowdeck runs --user alice
"""

from __future__ import annotations

import pandas as pd

from flowdeck import (
    Asset,
    AssetType,
    Card,
    DataSource,
    Flow,
    InfographData,
    Infographic,
    Page,
    Section,
    SingletonApp,
    Step,
    StepType,
    StoreInterface,
    Table,
)
from flowdeck.triggers import AssetTrigger, AssetTriggerMode

SCORES_LABEL = "customer scores"


class LoadCustomers(Step):
    """Ask for the customer table (headless: ``--params`` gives it)."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(Card("Customers", [DataSource(title="Customers", options=["csv"])]), "Data")
        store.update_page(page)


class Score(Step):
    """Score each customer from 0 to 100 and save the scores as an asset."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        customers = store.get_input("Customers")
        raw = (
            60 * customers["spend"] / customers["spend"].max()
            + 40 * customers["orders"] / customers["orders"].max()
            - 5 * customers["support_tickets"]
        )
        scores = customers[["customer_id", "region"]].assign(score=raw.clip(0, 100).round(1))
        scores["band"] = pd.cut(scores["score"], [-1, 40, 70, 100], labels=["low", "medium", "high"]).astype(str)
        scores = scores.sort_values("score", ascending=False, ignore_index=True)
        store.save_asset(Asset(scores, label=SCORES_LABEL, type=AssetType.DATASET, name="scores"))
        page = store.get_page()
        page.add_card_to_section(Card("Scores", [Table(scores, title="Customer scores")]), "Scores")
        store.update_page(page)


class Summarise(Step):
    """Summarise the newest "customer scores" asset: a few figures and the scores by band."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        asset = store.get_dataset(label=SCORES_LABEL)
        if asset is None:
            raise ValueError(f"no {SCORES_LABEL!r} asset yet: run 'Score customers' first")
        scores = asset.object
        by_band = (
            scores.groupby("band")["score"]
            .agg(customers="count", average_score="mean")
            .reindex(["high", "medium", "low"], fill_value=0)
            .reset_index()
        )
        by_band["average_score"] = by_band["average_score"].round(1)
        top = scores.loc[scores["score"].idxmax()]
        store.save_output(by_band, "scores by band")
        page = store.get_page()
        figures = [
            InfographData("Customers scored", str(len(scores)), f"asset version {asset.version}"),
            InfographData("Average score", f"{scores['score'].mean():.1f}", "out of 100"),
            InfographData("Top customer", str(top["customer_id"]), f"score {top['score']:.1f}"),
        ]
        page.add_card_to_section(
            Card(
                "Scores summary",
                [Infographic("Headline", data=figures), Table(by_band, title="Scores by band")],
            ),
            "Summary",
        )
        store.update_page(page)


score_customers = Flow(name="Score customers", description="Score customers and save the scores as an asset.")
score_customers.chain(
    [
        LoadCustomers(title="Load customers", type=StepType.INPUT, page=Page("Load customers", [Section("Data", [])])),
        Score(title="Score", type=StepType.RESULTS, page=Page("Score", [Section("Scores", [])])),
    ]
)

scores_report = SingletonApp(
    "Scores report",
    "Summarises the newest customer scores; runs by itself when new scores are saved.",
    trigger=AssetTrigger(name="new customer scores", mode=AssetTriggerMode.CREATED, label=SCORES_LABEL),
)
scores_report.chain(
    [Summarise(title="Summary", type=StepType.DASHBOARD, page=Page("Summary", [Section("Summary", [])]))]
)
