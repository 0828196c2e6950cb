"""Scoring against ground truth: what only a rendered dataset can tell. The product's path
(``engine.pipeline``) never imports from here."""
