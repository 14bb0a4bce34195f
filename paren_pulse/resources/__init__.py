"""Resources: one module per source; `definitions.py` binds each key once per environment."""
