"""The SDK's ``virtualitics_sdk.elements.plotly_plot`` module, backed by flowdeck."""

from __future__ import annotations

from flowdeck.elements import Element as Element
from flowdeck.elements import PlotlyPlot as PlotlyPlot
from flowdeck.elements.outputs import PREDICT_PLOT_DEFAULT_COLORWAY as PREDICT_PLOT_DEFAULT_COLORWAY
from flowdeck.elements.outputs import PREDICT_PLOT_DIVERGING_COLORSCALE as PREDICT_PLOT_DIVERGING_COLORSCALE
from flowdeck.elements.outputs import PREDICT_PLOT_SEQUENTIAL_COLORSCALE as PREDICT_PLOT_SEQUENTIAL_COLORSCALE
from flowdeck.elements.outputs import (
    PREDICT_PLOT_SEQUENTIAL_MINUS_COLORSCALE as PREDICT_PLOT_SEQUENTIAL_MINUS_COLORSCALE,
)

__all__ = [
    "PREDICT_PLOT_DEFAULT_COLORWAY",
    "PREDICT_PLOT_DIVERGING_COLORSCALE",
    "PREDICT_PLOT_SEQUENTIAL_COLORSCALE",
    "PREDICT_PLOT_SEQUENTIAL_MINUS_COLORSCALE",
    "Element",
    "PlotlyPlot",
]
