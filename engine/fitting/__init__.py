"""Fitting a body model to dense multi-view proxies (in progress: correspondences so far)."""

from engine.fitting.correspondences import Correspondences, proxy_correspondences

__all__ = ["Correspondences", "proxy_correspondences"]
