"""The Python side of loading a node file: importing it, finding its node class, turning the
class's declarations into what a C plugin's descriptor holds, and saying where a failure happened
(file:line). The C side (nodes/python/plugin.c) builds the descriptor and runs the callbacks."""

import importlib.util
import itertools
import math
import os
import sys
import traceback

from . import _xmem

_loaded = itertools.count()


class LoadError(Exception):
    """A node file that cannot be used; the message says where and why."""


class Param:
    """One parameter a node accepts, declared as C plugins declare theirs (xmem_node_param): a
    type (int, float, str, bool, or "enum" with choices), a default (None: required), an inclusive
    range for numbers and one line of help. `xmem node --param` and a graph's `params:` are parsed
    and checked against it before the node starts; the node reads self.params.NAME."""

    _types = {
        int: "int",
        float: "float",
        str: "string",
        bool: "bool",
        "int": "int",
        "float": "float",
        "str": "string",
        "string": "string",
        "bool": "bool",
        "enum": "enum",
    }

    def __init__(self, type, default=None, help="", min=None, max=None, choices=None):
        self.type = type
        self.default = default
        self.help = help
        self.min = min
        self.max = max
        self.choices = choices

    def describe(self, name):
        """(name, type code, default as text or None, help, min, max, choices or None)."""
        kind = self._types.get(self.type)
        if self.choices is not None and kind in (None, "string"):
            kind = "enum"
        if kind is None:
            raise LoadError(
                f"parameter '{name}': type {self.type!r} is not int, float, str, bool or 'enum'"
            )
        choices = None
        if kind == "enum":
            if not self.choices or not all(isinstance(c, str) and c for c in self.choices):
                raise LoadError(f"enum parameter '{name}': choices must be non-empty strings")
            choices = list(self.choices)
        lo, hi = 0.0, 0.0
        if self.min is not None or self.max is not None:
            if kind not in ("int", "float"):
                raise LoadError(f"parameter '{name}': a range needs an int or float parameter")
            lo = -math.inf if self.min is None else float(self.min)
            hi = math.inf if self.max is None else float(self.max)
        return (name, _xmem.PARAM_TYPES[kind], self._text(name, kind), str(self.help or ""),
                lo, hi, choices)

    def _text(self, name, kind):
        """The default as it would be written on the command line (parsed by the host)."""
        d = self.default
        if d is None:
            return None
        if kind == "bool":
            if not isinstance(d, bool):
                raise LoadError(f"parameter '{name}': default {d!r} is not a bool")
            return "true" if d else "false"
        if kind == "int" and (isinstance(d, bool) or not isinstance(d, int)):
            raise LoadError(f"parameter '{name}': default {d!r} is not an int")
        if kind == "float":
            if isinstance(d, bool) or not isinstance(d, (int, float)):
                raise LoadError(f"parameter '{name}': default {d!r} is not a number")
            return repr(float(d))
        return str(d)


class Params:
    """A running node's parameter values: self.params.width, or self.params["width"]."""

    def __init__(self, values):
        self.__dict__.update(values)

    def __getitem__(self, name):
        return self.__dict__[name]

    def __repr__(self):
        return f"Params({self.__dict__!r})"


def where(exc, path=None):
    """'file:line: Type: message' for an exception: a syntax error's own place; otherwise the
    innermost frame of real code (importlib's frozen frames say nothing), preferring `path`'s."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}: {type(exc).__name__}: {exc.msg}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    if path is not None:
        mine = [f for f in frames if os.path.abspath(f.filename) == os.path.abspath(path)]
        frames = mine or frames
    place = f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""
    return f"{place}{type(exc).__name__}: {exc}"


def report(exc):
    """(where(exc), the traceback's lines) for a node's log."""
    lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return where(exc), lines.rstrip("\n").split("\n")


def _ports(cls, attr):
    ports = getattr(cls, attr, None) or {}
    if isinstance(ports, dict):
        return [(str(k), str(v or "")) for k, v in ports.items()]
    if isinstance(ports, (list, tuple)):
        return [(str(k), "") for k in ports]
    raise LoadError(f"{cls.__name__}.{attr} must be a dict of port name -> help, or a list")


def describe(cls, stem):
    """What the C descriptor holds: (name, version, description, inputs, outputs, params,
    has_process, has_tick)."""
    name = getattr(cls, "name", None) or stem.lower().replace("-", "_")
    params = getattr(cls, "params", None) or {}
    if not isinstance(params, dict):
        raise LoadError(f"{cls.__name__}.params must be a dict of name -> xmem.Param(...)")
    described = []
    for pname, p in params.items():
        if not isinstance(p, Param):
            raise LoadError(f"parameter '{pname}': declare it as xmem.Param(type, default, ...)")
        described.append(p.describe(str(pname)))
    return (
        str(name),
        str(getattr(cls, "version", None) or "1.0"),
        str(getattr(cls, "description", None) or (cls.__doc__ or "").strip().split("\n")[0]),
        _ports(cls, "inputs"),
        _ports(cls, "outputs"),
        described,
        callable(getattr(cls, "process", None)),
        callable(getattr(cls, "tick", None)),
    )


def load(path):
    """Imports the node file at `path` under a name of its own and returns (its node class, the
    class described). Its folder goes on sys.path, so it can import modules beside it. Raises
    LoadError saying file:line and what went wrong."""
    if not os.path.isfile(path):
        raise LoadError("no such file")
    stem = os.path.splitext(os.path.basename(path))[0]
    modname = f"xmem_node_{next(_loaded)}_{stem}"
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise LoadError("not a Python source file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as e:  # a node file's SystemExit is a refusal too, not our exit
        del sys.modules[modname]
        raise LoadError(where(e, path)) from None
    classes = [
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, _xmem.Node) and c.__module__ == modname
    ]
    if not classes:
        del sys.modules[modname]
        raise LoadError("defines no node class (a subclass of xmem.Node)")
    if len(classes) > 1:
        names = ", ".join(c.__name__ for c in classes)
        del sys.modules[modname]
        raise LoadError(f"defines {len(classes)} node classes ({names}): one per file")
    return classes[0], describe(classes[0], stem)


def endpoint(pool, node, port, runtime_dir=None):
    """The ipc endpoint `xmem run` binds for output `port` of `node` in the graph whose pool is
    `pool` (graph/runtime_dir.c and graph/launcher.c name them the same way)."""
    base = runtime_dir or os.environ.get("XMEM_RUNTIME_DIR") or f"/tmp/xmem-{os.getuid()}"
    return f"ipc://{base}/{pool}/{node}.{port}"
