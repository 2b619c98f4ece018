"""Commented config files that ``elkit init config`` writes."""
