"""A StreamYOLO feature buffer that never leaves the device (the TensorRT backend's).

detector.backends.base.StreamBuffer keeps the buffer as host arrays, which suits ONNX Runtime and
OpenVINO on a CPU. On a GPU the PAN features (2.6 MB per frame for StreamYOLO-S at 600x960) would
cross the bus twice per frame; here every buffer tensor is allocated once on the device, the
engine reads `buffer_in_k` and writes `buffer_out_k` in place, and after each call the outputs are
copied into the inputs on the same stream. The rule is StreamBuffer's: after `reset()` (and at
first) the next frame is fused with itself (buffer_valid 0, inputs zero).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from detector.backends.base import ModelFileError, ModelMetadata, buffer_names

Allocate = Callable[[Sequence[int]], Any]  # shape -> a zeroed float32 tensor on the device


class DeviceStreamBuffer:
    """The buffer tensors of one stream, by graph tensor name; `tensors` are what the runtime binds."""

    def __init__(self, meta: ModelMetadata, shapes: dict[str, Sequence[int]], *, allocate: Allocate,
                 source: str) -> None:
        self.inputs, self.outputs, self.valid = buffer_names(meta, source=source)
        missing = [n for n in (*self.inputs, *self.outputs, self.valid) if n not in shapes]
        if missing:
            raise ModelFileError(f"{source}: metadata names buffer tensors {missing} that the graph does not have")
        for i, o in zip(self.inputs, self.outputs):
            if tuple(shapes[i]) != tuple(shapes[o]) or len(shapes[i]) != 4 or shapes[i][0] != 1 or min(shapes[i]) < 1:
                raise ModelFileError(f"{source}: buffer {i!r} {list(shapes[i])} and {o!r} {list(shapes[o])} "
                                     "must share one fixed shape [1, C, h, w]")
        self.tensors = {n: allocate(tuple(int(d) for d in shapes[n])) for n in (*self.inputs, *self.outputs)}
        self.tensors[self.valid] = allocate((1,))
        self.primed = False

    @property
    def names(self) -> set[str]:
        return {*self.inputs, *self.outputs, self.valid}

    def reset(self) -> None:
        self.primed = False

    def before_call(self) -> None:
        """Set the inputs of the next call: the kept features (valid 1), or zeros (valid 0) after a reset."""
        self.tensors[self.valid].fill_(1.0 if self.primed else 0.0)
        if not self.primed:
            for name in self.inputs:
                self.tensors[name].zero_()

    def after_call(self) -> None:
        """Keep this frame's features for the next call (device to device, in stream order)."""
        for i, o in zip(self.inputs, self.outputs):
            self.tensors[i].copy_(self.tensors[o])
        self.primed = True
