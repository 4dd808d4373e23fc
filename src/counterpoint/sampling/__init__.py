"""Sampling: fill the unknown notes of pianorolls with a model. The config (config), the
number of passes and the Gibbs schedule (schedule), and the samplers themselves (samplers)."""
