"""A module that fails while it runs: line 5."""
import xmem

LIMIT = 10
RATIO = LIMIT / 0
