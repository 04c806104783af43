"""gradient: a source written in Python. Each frame is a colour gradient shifted by its sequence
number, written straight into a pool buffer, so check_gradient.py can verify every byte downstream.
    - name: src
      plugin: gradient.py
      rate: 30
      params: {width: 640, height: 480, frames: 300}
"""
import numpy as np

import xmem


def pattern(height, width):
    """The frame of sequence 0; frame n adds n to every byte (mod 256)."""
    y = np.arange(height, dtype=np.uint16)[:, None, None]
    x = np.arange(width, dtype=np.uint16)[None, :, None]
    c = np.arange(3, dtype=np.uint16)[None, None, :]
    return ((x + 2 * y + 85 * c) & 0xFF).astype(np.uint8)


class Gradient(xmem.Node):
    name = "py_gradient"
    description = "a moving colour gradient, height x width x 3 uint8"
    outputs = {"out": "gradient frames"}
    params = {
        "width": xmem.Param(int, 640, min=1, max=16384, help="frame width in pixels"),
        "height": xmem.Param(int, 480, min=1, max=16384, help="frame height in pixels"),
        "frames": xmem.Param(int, 0, min=0, max=1e12, help="frames to send (0: unlimited)"),
    }

    def init(self):
        self.base = pattern(self.params.height, self.params.width)
        self.seq = 0

    def tick(self):
        out = self.acquire(self.base.shape, np.uint8, sequence=self.seq)
        np.add(self.base, self.seq & 0xFF, out=out.array, casting="unsafe")
        self.publish("out", out)
        self.seq += 1
        if self.seq == self.params.frames:
            self.finish()

    def fini(self):
        self.log(f"sent {self.seq} frames")
