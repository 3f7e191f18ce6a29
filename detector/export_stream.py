"""StreamYOLO to ONNX with its feature buffer as graph inputs and outputs.

A StreamYOLO frame needs the previous processed frame's PAN features (detector.streamyolo). The
exported graph keeps no state; the buffer goes in and out by name, and the runtime backend keeps
it between calls (detector.backends.base.StreamBuffer):

    images          [1, 3, H, W]          the current frame (BGR 0-255), as a YOLOX export
    buffer_in_k     [1, Ck, H/s, W/s]     the previous processed frame's PAN features, k = 0, 1, 2
                                          for strides 8, 16, 32 (Ck = 256w, 512w, 1024w)
    buffer_valid    [1] float             1: fuse with buffer_in_*; 0: the first frame of a stream,
                                          which is its own previous (the buffer inputs are ignored)
    output          [1, N, 5 + C]         the head output, boxes at the next frame
    buffer_out_k    [1, Ck, H/s, W/s]     this frame's PAN features: the next call's buffer_in_k

`buffer_valid` selects in the graph (Where), so a first frame costs one pass like any other and
matches the torch online path exactly. The names are recorded in the metadata
(ModelMetadata.buffer_inputs / buffer_outputs / buffer_valid). Batch is fixed at 1: a batch of
frames is consecutive frames of one stream, run one after the other.
"""
from __future__ import annotations

import copy
import tempfile
import warnings
from pathlib import Path

import torch

from detector.backends.base import ModelMetadata
from detector.blocks import fold_space_to_depth
from detector.grid import check_input_hw
from detector.streamyolo import StreamYOLO

BUFFER_INPUTS = ("buffer_in_0", "buffer_in_1", "buffer_in_2")
BUFFER_OUTPUTS = ("buffer_out_0", "buffer_out_1", "buffer_out_2")
BUFFER_VALID = "buffer_valid"


class StreamGraph(torch.nn.Module):
    """forward_online with the buffer as explicit tensors (what the exporters trace)."""

    def __init__(self, model: StreamYOLO) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, buffer_in_0: torch.Tensor, buffer_in_1: torch.Tensor,
                buffer_in_2: torch.Tensor, buffer_valid: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        current = self.model.backbone.pan(images)
        use = buffer_valid > 0.5
        previous = tuple(torch.where(use, b, c) for b, c in zip((buffer_in_0, buffer_in_1, buffer_in_2), current))
        out = self.model.head(self.model.backbone.fuse_flows(current, previous))  # type: ignore[arg-type]
        return out, current[0], current[1], current[2]


def stream_metadata(metadata: ModelMetadata, model: StreamYOLO) -> ModelMetadata:
    meta = copy.copy(metadata)
    meta.buffer_inputs, meta.buffer_outputs, meta.buffer_valid = BUFFER_INPUTS, BUFFER_OUTPUTS, BUFFER_VALID
    if meta.forecast_frames is None:
        meta.forecast_frames = int(model.forecast_frames)
    return meta


def export_stream_onnx(model: StreamYOLO, output: str | Path, *, input_size: tuple[int, int],
                       metadata: ModelMetadata, decode: bool = False, opset: int = 18, fuse: bool = True) -> Path:
    """Write the ONNX file of a StreamYOLO (not modified) with the buffer inputs / outputs; returns the path."""
    import onnx

    from detector.export import DYNAMO_MIN_OPSET, _quiet_exporter_logs, save_onnx_with_metadata

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).cpu().float().eval()
    if fuse:
        model.fuse()
        fold_space_to_depth(model)
    model.head.decode_in_inference = bool(decode)
    h, w = check_input_hw(input_size)
    graph = StreamGraph(model).eval()
    image = torch.zeros(1, 3, h, w)
    with torch.no_grad():
        buffers = tuple(torch.zeros_like(f) for f in model.backbone.pan(image))
    dummy = (image, *buffers, torch.zeros(1))
    names_in = ["images", *BUFFER_INPUTS, BUFFER_VALID]
    names_out = ["output", *BUFFER_OUTPUTS]
    kwargs: dict = {"input_names": names_in, "output_names": names_out, "opset_version": int(opset),
                    "dynamo": int(opset) >= DYNAMO_MIN_OPSET}
    if kwargs["dynamo"]:
        kwargs["verbose"] = False
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), _quiet_exporter_logs():
        warnings.simplefilter("ignore")
        scratch = Path(tmp) / "model.onnx"
        torch.onnx.export(graph, dummy, str(scratch), **kwargs)
        proto = onnx.load(str(scratch))
    got_in = [i.name for i in proto.graph.input]
    got_out = [o.name for o in proto.graph.output]
    if got_in != names_in or got_out != names_out:
        raise RuntimeError(f"{output}: exporter produced inputs {got_in} / outputs {got_out}, "
                           f"expected {names_in} / {names_out}")
    return save_onnx_with_metadata(proto, output, stream_metadata(metadata, model), decoded=decode,
                                   input_hw=(h, w))
