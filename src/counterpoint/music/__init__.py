"""Music without a model: the chorale array and the pianoroll (representation), a voice's
notes (notes), a piece's pitches plus where each note is struck (piece), note names
(spelling), and the rules of four-part writing that the sampler and the evaluation share
(rules)."""
