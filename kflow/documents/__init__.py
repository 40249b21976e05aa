"""The basis of a decision beside the case: a knowledge support's attachments (PDF, Word,
Excel; the bytes in a file store, named by their SHA-256) and comments on any case (append-only,
kept apart from the history so that a comment never touches a case's state or version)."""
