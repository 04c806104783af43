"""xmem for Python: nodes written in Python, run by `xmem node` and `xmem run` like C plugins, and
frames of a running graph read from a plain python3 process. A frame is a view of a pool buffer
(numpy through the buffer protocol, DLPack for torch and others): nothing is copied. See
docs/PYTHON.md.

    import numpy as np
    import xmem

    class Invert(xmem.Node):
        inputs = {"in": "frames"}
        outputs = {"out": "the frames, bit-inverted"}

        def process(self, port, frame):
            out = self.acquire_like(frame)
            np.invert(frame.array, out=out.array)
            self.publish("out", out)
"""

from ._xmem import (
    EndOfStream,
    Error,
    Frame,
    Node,
    Pool,
    ReleasedError,
    Subscriber,
    clock_ns,
)
from ._plugin import Param, endpoint

__all__ = [
    "EndOfStream",
    "Error",
    "Frame",
    "Node",
    "Param",
    "Pool",
    "ReleasedError",
    "Subscriber",
    "clock_ns",
    "endpoint",
]
