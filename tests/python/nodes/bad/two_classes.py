"""A node file with two node classes."""
import xmem


class One(xmem.Node):
    outputs = {"out": ""}

    def tick(self):
        pass


class Two(One):
    pass
