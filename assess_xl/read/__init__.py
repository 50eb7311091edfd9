"""Reading returns: gathering paths, pre-flight, mail and IMAP, one form in a sandboxed child, merging many."""
