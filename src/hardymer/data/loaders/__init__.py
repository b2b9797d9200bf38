"""Built-in dataset loaders, one module per format; each registers itself on import."""
