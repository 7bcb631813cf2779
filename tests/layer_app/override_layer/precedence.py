"""In both layers: OverrideLayer comes later in Layers, so its copy is the one imported."""

SOURCE = "override_layer"
