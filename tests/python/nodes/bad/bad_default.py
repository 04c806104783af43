"""A parameter whose default is not of its type."""
import xmem


class BadDefault(xmem.Node):
    outputs = {"out": ""}
    params = {"size": xmem.Param(int, "big")}

    def tick(self):
        pass
