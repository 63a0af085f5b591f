//! Probe agent library.
