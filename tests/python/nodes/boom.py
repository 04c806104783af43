"""boom: a test filter that copies frames on and raises in process at frame `at` (counting from
1), to show a Python exception's traceback in the node's log and the node failing."""
import xmem


def explode(n):
    raise RuntimeError(f"boom at frame {n}")


class Boom(xmem.Node):
    name = "boom"
    inputs = {"in": "any frames"}
    outputs = {"out": "the same frames"}
    params = {"at": xmem.Param(int, 5, min=1, max=1e9, help="the frame that raises")}

    def init(self):
        self.n = 0
        self.held = []

    def process(self, port, frame):
        self.n += 1
        self.held.append(frame)  # held when it fails: they must come back all the same
        if self.n == self.params.at:
            explode(self.n)
        out = self.acquire_like(frame)  # a copy of its own, while the input stays held
        out.array[...] = frame.array
        self.publish("out", out)
