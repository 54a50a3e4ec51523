"""Migration graph, loader glue, recorder and executor."""
