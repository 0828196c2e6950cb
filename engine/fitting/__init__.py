"""Fitting a body model to what the views show: ``fit(observations, body, options)``."""

from engine.fitting.correspondences import Correspondences, proxy_correspondences
from engine.fitting.fit import fit
from engine.fitting.observations import Observations
from engine.fitting.types import FitOptions, FitResult, ProxyViews

__all__ = ["Correspondences", "FitOptions", "FitResult", "Observations", "ProxyViews", "fit",
           "proxy_correspondences"]
