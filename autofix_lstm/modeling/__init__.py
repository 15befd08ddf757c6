"""The user's model: built from the spec (``build``), trained and measured the same way everywhere (``train``),
with the callbacks every training shares (``callbacks``)."""
