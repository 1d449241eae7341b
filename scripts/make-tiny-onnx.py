#!/usr/bin/env python3
"""Writes the tiny ONNX models that src/vectors/onnx-encoder.test.ts runs through onnxruntime-node.

Their weights follow a formula the test recomputes on its own, so the test checks the encoder's
answers against arithmetic, not against another run of the same code:

    W[i][j] = (((i + 1) * (j + 2)) % 7 - 3) / 4      (4 inputs x 3 outputs)
    b[j]    = (j - 1) / 10

- tiny-linear.onnx: x float32 [batch, 4] -> embedding = tanh(x W + b), float32 [batch, 3]
- tiny-image.onnx:  x float32 [batch, 1, 2, 2] -> Flatten -> x W + b, float32 [batch, 3]
  (an "image" model: the encoder feeds it rows of 4 values reshaped to 1 x 2 x 2)
- tiny-batch4.onnx:  x float32 [4, 4] -> tanh(x W + b), float32 [4, 3] (exported with a fixed batch
  size: the encoder pads the last batch)
- tiny-3d-output.onnx: x float32 [batch, 4] -> x W + b unsqueezed, float32 [batch, 3, 1]
  (refused: an embedding output must be 2-D)
- tiny-rank1.onnx: x float32 [4] -> x W + b, float32 [3] (refused: no batch dimension)

Needs the `onnx` Python package (Debian: `apt-get install -y python3-onnx`). Run from the
repository root: `python3 scripts/make-tiny-onnx.py` (writes test/fixtures/onnx/).
"""

import os

import onnx
from onnx import TensorProto, helper

OUT = os.path.join("test", "fixtures", "onnx")
OPSET = 13
IN_DIM, OUT_DIM = 4, 3


def weights():
    w = [[(((i + 1) * (j + 2)) % 7 - 3) / 4 for j in range(OUT_DIM)] for i in range(IN_DIM)]
    b = [(j - 1) / 10 for j in range(OUT_DIM)]
    return w, b


def initialisers():
    w, b = weights()
    flat = [v for row in w for v in row]
    return [
        helper.make_tensor("W", TensorProto.FLOAT, [IN_DIM, OUT_DIM], flat),
        helper.make_tensor("b", TensorProto.FLOAT, [OUT_DIM], b),
    ]


def save(name, nodes, inputs, outputs, extra=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, initialisers() + list(extra))
    model = helper.make_model(
        graph,
        producer_name="kiban make-tiny-onnx.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    # IR version 8 keeps the files readable by older runtimes as well.
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(OUT, name)
    onnx.save(model, path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    os.makedirs(OUT, exist_ok=True)
    f = TensorProto.FLOAT
    save(
        "tiny-linear.onnx",
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["z"]),
            helper.make_node("Tanh", ["z"], ["embedding"]),
        ],
        [helper.make_tensor_value_info("x", f, ["batch", IN_DIM])],
        [helper.make_tensor_value_info("embedding", f, ["batch", OUT_DIM])],
    )
    save(
        "tiny-batch4.onnx",
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["z"]),
            helper.make_node("Tanh", ["z"], ["embedding"]),
        ],
        [helper.make_tensor_value_info("x", f, [4, IN_DIM])],
        [helper.make_tensor_value_info("embedding", f, [4, OUT_DIM])],
    )
    save(
        "tiny-image.onnx",
        [
            helper.make_node("Flatten", ["x"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["embedding"]),
        ],
        [helper.make_tensor_value_info("x", f, ["batch", 1, 2, 2])],
        [helper.make_tensor_value_info("embedding", f, ["batch", OUT_DIM])],
    )
    save(
        "tiny-3d-output.onnx",
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["z"]),
            helper.make_node("Unsqueeze", ["z", "axes"], ["embedding"]),
        ],
        [helper.make_tensor_value_info("x", f, ["batch", IN_DIM])],
        [helper.make_tensor_value_info("embedding", f, ["batch", OUT_DIM, 1])],
        [helper.make_tensor("axes", TensorProto.INT64, [1], [2])],
    )
    save(
        "tiny-rank1.onnx",
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["embedding"]),
        ],
        [helper.make_tensor_value_info("x", f, [IN_DIM])],
        [helper.make_tensor_value_info("embedding", f, [OUT_DIM])],
    )


if __name__ == "__main__":
    main()
