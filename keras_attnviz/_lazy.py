"""PEP 562 lazy attributes: a package's public names, imported on first use."""

import importlib


def lazy_attributes(package, names):
    """A module `__getattr__` that imports each public name on first access.

    Args:
        package: the `__name__` of the package that exports the names.
        names: dict from public name to the submodule (relative to `package`)
            that defines it.

    Returns:
        A function to assign to the package's `__getattr__`.
    """

    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{names[name]}")
        return getattr(module, name)

    return __getattr__
