"""The Coconet network and its presets (network), checkpoints and the weights' fingerprint
(checkpoint), networks made from networks (products), and the shipped models (registry)."""
