"""Files copied into a build's deploy/ package (package data, read with importlib.resources)."""
