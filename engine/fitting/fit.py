"""The fit: ``fit(observations, body, options)`` poses and shapes a body model to what
``observations`` hold (``observations.py``: any mix of landmarks, masks and dense proxies,
with their cameras), under the priors of ``priors.py``.

Two schedules, chosen by the observations:

- with landmarks (``landmark_fit.py``): a start from the triangulated landmarks (or a
  previous frame's fit, ``init``), L-BFGS on landmarks, masks and proxies, then
  Levenberg-Marquardt on the landmarks; tuned as ``FitOptions.for_landmarks()``;
- proxies alone (``proxy_fit.py``): a start from the torso's correspondences, L-BFGS at two
  wide robust scales, then Levenberg-Marquardt on the body and on the hands (with hand
  crops); tuned as ``FitOptions.for_proxies()`` (= ``FitOptions()``).

``options`` None takes the tuning of the schedule the observations choose.
"""

from __future__ import annotations

import copy
import time

from engine.body.base import BodyModel, BodyParams
from engine.errors import InputError
from engine.fitting.landmark_fit import fit_landmarks
from engine.fitting.observations import Observations
from engine.fitting.proxy_fit import fit_proxies
from engine.fitting.types import FitOptions, FitResult


def fit(observations: Observations, body: BodyModel, options: FitOptions | None = None, *,
        init: BodyParams | None = None) -> FitResult:
    """The body fitted to ``observations``; ``init``: a previous frame's fit of the same person
    to start from (landmarks only). ``body`` is not changed (a copy is converted to
    ``options.dtype`` when it differs)."""
    t_start = time.perf_counter()
    landmarks = observations.landmarks is not None
    if options is None:
        options = FitOptions.for_landmarks() if landmarks else FitOptions.for_proxies()
    if init is not None and not landmarks:
        raise InputError("init: a previous frame's fit starts the landmark schedule only; these observations "
                         "hold proxies alone")
    if body.dtype != options.dtype:  # Module.to converts in place: convert a copy, never the caller's model
        body = copy.deepcopy(body).to(dtype=options.dtype)
    if landmarks:
        return fit_landmarks(observations, body, options, init, t_start)
    return fit_proxies(observations, body, options, t_start)
