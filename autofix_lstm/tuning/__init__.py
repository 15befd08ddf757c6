"""The search for a fix, on Keras Tuner's engine.

``driver`` runs it (``search``, ``SearchResult``); ``records`` is the one trial record every part
reads; ``fields`` holds one object per searchable spec field; ``strategies`` reads the remedy files;
``space`` turns them into Keras Tuner hyperparameters; ``oracles`` seeds Keras Tuner's oracles;
``confirmation`` trains the best fix again with more seeds; ``summary`` judges the outcome (verdict,
changes, cuDNN) and writes the public outputs.

The package is called ``tuning`` rather than ``search`` so that ``autofix_lstm.search`` stays the
public function: a subpackage of that name would replace it on the package as soon as it is imported.
"""
