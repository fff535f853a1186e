"""Experiments: data sets, one method registry, protocol, metrics and statistics shared by
`wce compare` and `wce longtail`, and their runners."""
