from virtualitics_sdk import App

from .results_step import results_step
from .upload_step import upload_step

app = App(
    name="basic_app",
    description="The SDK command line's app template",
)

app.chain([upload_step, results_step])
