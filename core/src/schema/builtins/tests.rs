//! Unit tests of the resolver and the coercion rules.
