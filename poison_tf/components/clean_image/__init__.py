"""The clean-image (label-only) backdoor on the segmenter: host → target pair selection by
t-SNE, the relabel plan, and the base-vs-poisoned report."""
