"""Components private to the nwb page."""
