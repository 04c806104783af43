"""passthrough: forwards every frame unchanged (no copy): the Python node of xmem-bench-python,
the smallest filter there is."""
import xmem


class Passthrough(xmem.Node):
    name = "py_passthrough"
    inputs = {"in": "any frames"}
    outputs = {"out": "the same buffers"}

    def process(self, port, frame):
        self.forward("out", frame)
