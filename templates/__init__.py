"""Rulebooks shipped with assess-xl (data only)."""
