"""Where each detector landmark sits on a body model: a sparse, non-negative combination of
the model's vertices per landmark (``table.py``), learned from renders whose bodies are known
(``learn.py``)."""

from engine.landmarks.table import LandmarkTable, load_landmark_table

__all__ = ["LandmarkTable", "load_landmark_table"]
