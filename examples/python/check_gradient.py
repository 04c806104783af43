"""check_gradient: a sink written in Python that checks every byte of gradient.py's frames (or of
their inversion, after an invert node) and their sequence numbers, then fails the node if any
frame was wrong or, with `expect`, if not exactly that many arrived.
    - name: check
      plugin: check_gradient.py
      params: {inverted: true, expect: 300}
      inputs: {in: {from: inv/out, policy: block}}
"""
import numpy as np

import xmem
from gradient import pattern


class CheckGradient(xmem.Node):
    name = "py_check_gradient"
    description = "checks gradient.py's frames byte by byte"
    inputs = {"in": "gradient frames"}
    params = {
        "inverted": xmem.Param(bool, False, help="the frames were bit-inverted on their way"),
        "expect": xmem.Param(int, 0, min=0, max=1e12, help="frames that must arrive (0: any)"),
    }

    def init(self):
        self.base = None
        self.received = self.bad = self.gaps = 0
        self.next = 0

    def process(self, port, frame):
        self.received += 1
        if self.base is None or self.base.shape != frame.shape:
            self.base = pattern(*frame.shape[:2])
        want = self.base + np.uint8(frame.sequence & 0xFF)
        if self.params.inverted:
            np.invert(want, out=want)
        if frame.dtype != "uint8" or not np.array_equal(frame.array, want):
            self.bad += 1
            if self.bad <= 5:
                self.log(f"frame {frame.sequence} is not the gradient it should be", "warn")
        if frame.sequence != self.next:
            self.gaps += 1
        self.next = frame.sequence + 1

    def fini(self):
        self.log(f"checked {self.received} frames: {self.bad} bad, {self.gaps} gaps")
        if self.bad:
            self.fail(f"{self.bad} bad frames")
        elif self.params.expect and self.received != self.params.expect:
            self.fail(f"received {self.received} frames, expected {self.params.expect}")
