"""keeper: a test sink that keeps frames past process and checks the promises about them: a kept
frame's bytes never change (its buffer is not recycled under it), a released frame refuses every
use, an input refuses writes, a released frame cannot be published. It logs what it saw; a broken
promise fails the node. With `leak`, it leaves its frames in a module global past fini, for the
host to report and give back."""
import zlib

import xmem

LEFT_BEHIND = []


class Keeper(xmem.Node):
    name = "keeper"
    inputs = {"in": "any frames"}
    outputs = {"out": "never wired: where released frames are (not) published"}
    params = {
        "keep": xmem.Param(int, 4, min=1, max=64, help="frames held past process"),
        "leak": xmem.Param(bool, False, help="leave the kept frames behind at fini"),
    }

    def init(self):
        self.kept = []  # (frame, its crc at arrival)
        self.frames = self.unchanged = self.refused_use = self.refused_write = 0
        self.refused_publish = 0
        self.broken = []

    def process(self, port, frame):
        self.frames += 1
        try:
            frame.array[0] = 1
            self.broken.append(f"frame {frame.sequence}: an input took a write")
        except ValueError:
            self.refused_write += 1
        self.kept.append((frame, zlib.crc32(frame.array)))
        if len(self.kept) == self.params.keep and self.frames == self.params.keep:
            self.log(f"holding {self.params.keep} frames")
        if len(self.kept) > self.params.keep:
            self.check(*self.kept.pop(0))

    def check(self, frame, crc):
        seq = frame.sequence
        if zlib.crc32(frame.array) == crc:
            self.unchanged += 1
        else:
            self.broken.append(f"frame {seq} changed while kept")
        frame.release()
        for use in (lambda: frame.array, lambda: frame.sequence, lambda: frame.__dlpack__()):
            try:
                use()
                self.broken.append(f"frame {seq} was used after release")
            except xmem.ReleasedError:
                self.refused_use += 1
        try:
            self.publish("out", frame)
            self.broken.append(f"frame {seq} was published after release")
        except xmem.ReleasedError:
            self.refused_publish += 1

    def fini(self):
        if self.params.leak:
            LEFT_BEHIND.extend(f for f, _ in self.kept)
        else:
            for kept in self.kept:
                self.check(*kept)
        self.log(
            f"keeper: {self.frames} frames, {self.unchanged} unchanged after being kept, "
            f"{self.refused_use} uses and {self.refused_publish} publishes of released frames "
            f"refused, {self.refused_write} writes to inputs refused"
        )
        for b in self.broken[:5]:
            self.log(b, "error")
        if self.broken:
            self.fail(f"{len(self.broken)} broken promises")
