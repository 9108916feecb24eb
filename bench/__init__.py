"""Benchmarks: each prints our figure beside a peer measured in the same run, as a ratio."""
