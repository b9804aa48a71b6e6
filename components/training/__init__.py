"""Components private to the training page."""
