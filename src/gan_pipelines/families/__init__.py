"""Model families: each subpackage holds everything only that family knows (image kinds, data
sources, networks and training tasks, evaluation protocol, predict/export, nodes, pipelines).
Shared packages never import from here."""
