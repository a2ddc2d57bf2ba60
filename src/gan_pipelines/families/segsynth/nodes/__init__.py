"""segsynth's nodes, one module per stage."""
