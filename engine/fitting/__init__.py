"""Fitting a body model to dense multi-view proxies."""

from engine.fitting.correspondences import Correspondences, proxy_correspondences
from engine.fitting.fit import fit
from engine.fitting.types import FitOptions, FitResult, ProxyViews

__all__ = ["Correspondences", "FitOptions", "FitResult", "ProxyViews", "fit", "proxy_correspondences"]
