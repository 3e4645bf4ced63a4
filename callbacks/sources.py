def register(app):
    """No callbacks yet."""
