"""Pieces of the screens that both a screen's layout and its callbacks use (rendering
helpers, the read models' wiring). Plain modules: they register no page."""
