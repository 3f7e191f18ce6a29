"""Streaming evaluation: pairing outputs with ground-truth times, streaming AP and offline AP
(pycocotools), association stats, reports, submission files and latency sweeps."""
