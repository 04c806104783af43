"""invert: a transform in numpy. Each input frame is read in place (a read-only view of the pool
buffer) and inverted into a new buffer acquired from the pool, which is then published: no copy
but the inversion itself. A test frame inverted whole still checks (verify counts the inversion).
    - name: inv
      plugin: invert.py
      inputs: {in: src/out}
"""
import numpy as np

import xmem


class Invert(xmem.Node):
    name = "py_invert"
    description = "writes each frame bit-inverted into a new buffer (numpy)"
    inputs = {"in": "frames of any layout"}
    outputs = {"out": "the frames, bit-inverted, same layout and stamp"}

    def process(self, port, frame):
        out = self.acquire_like(frame)  # same size, layout, sequence and timestamp
        np.invert(frame.array, out=out.array)
        self.publish("out", out)
