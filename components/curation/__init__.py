"""Components private to the curation page."""
