"""Components private to the neuroglancer page."""
