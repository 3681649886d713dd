//! The email itself: the issue view and its MIME form, the per-recipient
//! splice, DKIM signatures and the signed tokens in every link.
//!
//! Owns turning an assembled issue into bytes for one reader. Must not touch
//! the network, the list files or the store.

pub mod dkim;
pub mod render;
pub mod token;
pub mod verp;
