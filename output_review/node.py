"""Notebook JSON as dicts with attribute access (``cell.outputs``), as nbformat's NotebookNode
gives, without importing nbformat (its import pulls jsonschema and costs a second)."""


class Node(dict):
    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __delattr__(self, key):
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None


def to_notebook_node(nb):
    """The same notebook as nbformat's NotebookNode, for nbformat and nbconvert."""
    import nbformat

    return nbformat.from_dict(nb)
