"""Music without a model: the chorale array and the pianoroll (representation), a voice's
notes (notes), and the rules of four-part writing that the sampler and the evaluation share
(rules)."""
