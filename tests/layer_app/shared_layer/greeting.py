"""A module of SharedLayer, imported by LayeredFunction."""

SOURCE = "shared_layer"


def greet(name: str) -> str:
    return f"hello {name} from a layer"
