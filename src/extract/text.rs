//! Shared text helpers: word tokens, sentences (stub).
