"""Weekly metric assets (one per category) and the reporting assets built on them."""
