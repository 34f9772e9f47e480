"""Runs onnx's own shape inference (data_prop on) on each model named in argv[1] (one path a
line) and writes, per model, the main graph's value types as JSON to argv[2]:
{path: {value: "FLOAT[batch,3,?]" | "FLOAT[*]" | "seq" ...} | {"error": message}}."""
import json
import sys

import onnx
from onnx import shape_inference


def describe(t):
    kind = t.WhichOneof("value")
    if kind != "tensor_type":
        return kind or "none"
    tt = t.tensor_type
    name = onnx.TensorProto.DataType.Name(tt.elem_type) if tt.elem_type else "UNDEFINED"
    if not tt.HasField("shape"):
        return f"{name}[*]"
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(str(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append("?")
    return f"{name}[{','.join(dims)}]"


def main():
    paths = [p for p in open(sys.argv[1]).read().split("\n") if p]
    results = {}
    for path in paths:
        try:
            model = shape_inference.infer_shapes(onnx.load(path), data_prop=True)
            g = model.graph
            results[path] = {
                v.name: describe(v.type) for v in list(g.value_info) + list(g.output) if v.type.WhichOneof("value")
            }
        except Exception as error:  # inference refuses some models; the test reports it
            results[path] = {"error": str(error).split("\n")[0][:300]}
    json.dump(results, open(sys.argv[2], "w"))


main()
