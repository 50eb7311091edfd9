"""Scoring: the vectorised engine, the coordinator's adjustments, last year's comparison, replay under other rules."""
