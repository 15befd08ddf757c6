"""The user's data: windows and time-ordered splits (``dataset``), scalers and their Keras layers (``transforms``)."""
