"""Images in: reading, fitting to a model's input, folders of classes, detector types and face geometry."""
