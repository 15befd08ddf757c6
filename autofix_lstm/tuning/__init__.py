"""The search for a fix, on Keras Tuner's engine.

``driver`` runs it, stage by stage (``run_search``); ``trials`` trains each candidate and writes its
record (``TrialRunner``); ``result`` is what a search returns and reports (``SearchResult``,
``SearchReporter``); ``resume`` carries a search from one run to the next (fingerprint, cached
baseline, the best's files); ``records`` is the one trial record every part reads; ``space`` turns
the remedy catalogue (``autofix_lstm.remedies``: fields and strategy files) into Keras Tuner
hyperparameters; ``oracles`` seeds Keras Tuner's oracles; ``confirmation`` trains
the best fix again with more seeds; ``summary`` judges the outcome (verdict, changes, cuDNN) and
writes the public outputs. ``distributed`` is a distributed search's chief, ``distributed_worker``
one of its workers, and ``process_role`` says which of them this process is.

The package is called ``tuning`` rather than ``search`` so that ``autofix_lstm.search`` stays the
public function: a subpackage of that name would replace it on the package as soon as it is imported.
"""
