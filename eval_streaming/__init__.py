"""Streaming evaluation: pairing outputs with ground-truth times, streaming AP and offline AP
(data.coco_eval, faster-coco-eval), association stats, reports, submission files and latency sweeps."""
