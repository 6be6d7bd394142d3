"""Flows and objects for the asset tests, at module level so that other processes can load them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from flowdeck import Dataset, Flow, Model, Step, StepType, StoreInterface

MODEL_LABEL = "churn-model"


def training_data() -> tuple[pd.DataFrame, np.ndarray]:
    """A small, deterministic, separable classification problem."""
    rng = np.random.default_rng(7)
    features = pd.DataFrame({"tenure": rng.normal(size=200), "spend": rng.normal(size=200)})
    target = (features["tenure"] + 0.5 * features["spend"] > 0).astype(int).to_numpy()
    return features, target


def scoring_data() -> pd.DataFrame:
    """Rows to predict, the same in every process."""
    return pd.DataFrame({"tenure": [-2.0, -0.5, 0.1, 1.5, 3.0], "spend": [0.0, -1.0, 0.5, 0.0, -2.0]})


class Train(Step):
    """Fits a logistic regression and saves it, with its training data, as assets."""

    def run(self, flow_metadata):
        from sklearn.linear_model import LogisticRegression

        store = StoreInterface(**flow_metadata)
        features, target = training_data()
        model = LogisticRegression().fit(features, target)
        dataset = Dataset(features.assign(churn=target), "churn-data", predict_columns=["churn"])
        data_id = store.save_asset(dataset)
        asset = Model(model, MODEL_LABEL, description="churn classifier", accuracy=float(model.score(features, target)))
        asset.link_asset("training data", data_id)
        store.save_output(store.save_asset(asset), "model_id")


class Score(Step):
    """Loads the newest churn model the user may see and predicts with it."""

    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        model = store.get_model(MODEL_LABEL)
        store.save_output([int(p) for p in model.predict(scoring_data())], "predictions")
        store.save_output(model.id, "model_id")


def _one_step(name: str, step: Step) -> Flow:
    flow = Flow(name=name, description=f"{name}: one step")
    flow.chain([step])
    return flow


train_flow = _one_step("Train churn model", Train(title="Train", type=StepType.RESULTS))
score_flow = _one_step("Score with churn model", Score(title="Score", type=StepType.RESULTS))


def write_marker(path: str) -> str:
    """Writes a file: proof that an object was unpickled."""
    Path(path).write_text("unpickled")
    return "unpickled"


class Boobytrap:
    """An object whose unpickling writes a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (write_marker, (self.marker,))


class Opaque:
    """A plain object only pickle can hold."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.payload == self.payload

    def __hash__(self) -> int:
        return hash(self.payload)
