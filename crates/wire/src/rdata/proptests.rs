//! Property tests: random typed RDATA through wire and text.
