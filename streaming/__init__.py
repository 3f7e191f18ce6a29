"""Streaming perception: the timestamped simulator, the wall-clock runner, frame sources
(replay, threads, ZeroMQ), stream logs, the frame passes and dataset session behind
`python -m streaming.run` (the command composes them with eval_streaming's scoring).

Submodules are imported explicitly (nothing heavy happens on `import streaming`).
"""
