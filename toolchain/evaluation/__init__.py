"""Ranking metrics, evaluation loops and reference recommenders."""
