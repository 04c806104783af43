"""A node file whose import fails on line 4."""
import xmem

import no_such_module_here  # noqa
