"""Streaming perception: the timestamped simulator, the wall-clock runner, frame sources
(replay, threads, ZeroMQ), stream logs and `python -m streaming.run`.

Submodules are imported explicitly (nothing heavy happens on `import streaming`).
"""
