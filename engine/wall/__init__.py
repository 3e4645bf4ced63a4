"""The wall's read model (model.py) over its pure views (views.py); state.py is what a
screen holds between polls. Views are kept in an engine.cache.Cache."""
