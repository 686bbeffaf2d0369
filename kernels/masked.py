"""Credentials a session holds but must never print: the session's hub token and its warehouse
password. ``repr``, ``str``, ``vars`` and ``help()`` show a mask; ``reveal()`` gives the value
to the code that needs it. (A researcher can still print their own environment; the gate's
secret check blocks any credential that reaches a notebook.)"""


class Masked:
    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<masked>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a masked credential cannot be pickled or copied")
