"""typed: a test source that declares one parameter of every type and logs the values it got, with
their Python types, then ends its stream."""
import xmem


class Typed(xmem.Node):
    name = "typed"
    description = "logs its parameters"
    outputs = {"out": "nothing"}
    params = {
        "count": xmem.Param(int, 3, min=1, max=10, help="an int in a range"),
        "ratio": xmem.Param(float, 0.5, min=0, max=1, help="a float in a range"),
        "label": xmem.Param(str, help="a required string"),
        "on": xmem.Param(bool, False, help="a bool"),
        "mode": xmem.Param("enum", "fast", choices=["fast", "exact"], help="an enum"),
    }

    def init(self):
        shown = " ".join(f"{k}={v!r}:{type(v).__name__}" for k, v in vars(self.params).items())
        self.log(f"typed: {shown}")

    def tick(self):
        self.finish()
