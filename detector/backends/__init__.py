"""Inference backends: PyTorch (.pth), ONNX Runtime (.onnx), OpenVINO (.xml), TensorRT (.engine).

Each backend module imports its runtime lazily, so using one never requires the others.
"""
