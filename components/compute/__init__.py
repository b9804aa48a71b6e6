"""Components private to the compute page."""
