"""An app laid out the way the SDK's command line lays out a new one: one module per step, chained here."""

from virtualitics_sdk import App

from .results_step import results_step
from .upload_step import upload_step

app = App(name="basic_app", description="Upload a table, then see it with a chart")
app.chain([upload_step, results_step])
