"""Chorales to learn from: the datasets (music21's corpus, the JSB Chorales), the batches
made from them, and the masks that say which notes a network is given (in training and in
each task)."""
