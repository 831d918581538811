//! `scim-directory`: being built; see the issue tracker.
