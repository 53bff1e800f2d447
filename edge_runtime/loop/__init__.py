"""The recognition loop: streams, their mailboxes, the pipeline and the run summary."""
