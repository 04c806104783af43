"""A node file without a node class."""
import xmem


class NotANode:
    pass
