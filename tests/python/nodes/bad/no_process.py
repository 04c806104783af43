"""A filter without process."""
import xmem


class NoProcess(xmem.Node):
    inputs = {"in": ""}
