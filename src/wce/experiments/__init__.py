"""Experiments: data sets, methods, protocol, metrics, statistics and the runner behind `wce compare`."""
