"""Small utilities shared by the models, the engine and the data code."""
