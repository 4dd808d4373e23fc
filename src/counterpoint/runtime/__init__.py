"""How a model runs at inference: the backend choice (fused float32, bfloat16, int8) and the
int8 ONNX network."""
