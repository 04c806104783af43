"""A node file with a syntax error on line 6."""
import xmem


class Broken(xmem.Node):
    def process(self, port, frame)
        pass
